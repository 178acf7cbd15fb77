import Glibc
import SpoolBus

// Interim entry point until the command-line branch lands: `run` only.
let words = CommandLine.arguments.dropFirst().map { Array($0.utf8) }
guard words.first == Array("run".utf8) else {
    print("spoolbus \(spoolBusVersion)")
    exit(0)
}
var options = DaemonOptions()
var index = 1
while index < words.count {
    let word = String(decoding: words[index], as: UTF8.self)
    let value = index + 1 < words.count ? words[index + 1] : []
    switch word {
    case "--spool": options.spool = value; index += 1
    case "--log": options.log = value == Array("-".utf8) ? .standardOutput : .file(value); index += 1
    case "--jobs": options.jobs = Int(String(decoding: value, as: UTF8.self)) ?? options.jobs; index += 1
    case "--grace": options.grace = parseDuration(String(decoding: value, as: UTF8.self)) ?? options.grace; index += 1
    default: options.rulesFile = words[index]
    }
    index += 1
}
exit(Daemon.run(options, handlers: .builtIn))
