#!/bin/sh
# node and gone events: something other than a complete file appeared, or something went.
echo "audit: $1 $2 $3"
