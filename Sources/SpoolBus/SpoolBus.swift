/// The version `spoolbus --version` prints.
public let spoolBusVersion = "0.1.0"
