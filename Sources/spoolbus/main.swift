import SpoolBus
print(spoolBusVersion)
