import Glibc
import SpoolBus

// The first thing the process does, before anything could start a thread: the daemon blocks
// its signals for signalfd, which only works if no other thread exists yet.
exit(SpoolBusCommandLine.main(handlers: .builtIn))
