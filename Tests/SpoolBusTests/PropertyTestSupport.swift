import Glibc
import Testing

/// SplitMix64: a tiny, fully deterministic generator, so a failing property case is replayed
/// from its seed alone (`SPOOLBUS_PROPERTY_SEED=N swift test --filter Property`).
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in `0..<bound` (bound > 0).
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    mutating func chance(_ numerator: Int, in denominator: Int) -> Bool { below(denominator) < numerator }

    mutating func pick<T>(_ choices: [T]) -> T { choices[below(choices.count)] }

    mutating func bytes(count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) } }
}

/// Runs `property` for `cases` seeds derived from one base seed. The base seed is fixed (so CI
/// is reproducible) unless SPOOLBUS_PROPERTY_SEED sets it; each case's seed is printed with the
/// first failure, and the remaining cases are skipped once one fails.
func checkProperty(
    _ name: String, cases: Int, sourceLocation: SourceLocation = #_sourceLocation,
    _ property: (inout SplitMix64) -> String?
) {
    let base = getenv("SPOOLBUS_PROPERTY_SEED").flatMap { UInt64(String(cString: $0)) } ?? 0x5EED_5B00_0008
    var seeds = SplitMix64(seed: base)
    for index in 0..<cases {
        let seed = seeds.next()
        var generator = SplitMix64(seed: seed)
        if let failure = property(&generator) {
            Issue.record(
                "\(name): case \(index) failed (replay: SPOOLBUS_PROPERTY_SEED=\(base), case seed \(seed)): \(failure)",
                sourceLocation: sourceLocation)
            return
        }
    }
}

/// Bytes shown for a failure message: printable ASCII as is, everything else as `\xNN`.
func shownBytes(_ bytes: [UInt8], limit: Int = 400) -> String {
    var text = ""
    for byte in bytes.prefix(limit) {
        if (0x20...0x7E).contains(byte) && byte != UInt8(ascii: "\\") {
            text.append(Character(Unicode.Scalar(byte)))
        } else {
            text += "\\x" + String(byte, radix: 16).leftPadded(to: 2)
        }
    }
    return bytes.count > limit ? text + "… (\(bytes.count) bytes)" : text
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
