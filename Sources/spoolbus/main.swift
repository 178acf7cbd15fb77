import Glibc
import SpoolBus

// The first thing the process does, before anything could start a thread: the daemon blocks
// its signals for signalfd, which only works if no other thread exists yet.
exit(SpoolBusCommandLine.main(
    arguments: (1..<Int(CommandLine.argc)).map { index in
        let word = CommandLine.unsafeArgv[index]!
        return Array(UnsafeRawBufferPointer(start: word, count: strlen(word)))
    },
    handlers: .builtIn))
