/// Bytes shown to a person: printable UTF-8 as is, anything else (control bytes, invalid UTF-8)
/// as `\xNN`, so a message or summary line stays one readable line whatever a name holds.
func displayBytes(_ bytes: [UInt8]) -> String {
    var text = ""
    forEachScalarOrByte(bytes) { scalar, byte in
        if let scalar, isPrintable(scalar) {
            text.unicodeScalars.append(scalar)
        } else if let scalar {
            for unit in UTF8.encode(scalar)! { text += hexEscape(unit) }
        } else if let byte {
            text += hexEscape(byte)
        }
    }
    return text
}

/// A word for a summary line: bare when that reads back unambiguously, otherwise in double
/// quotes with `\"`, `\\`, `\n`, `\t` and `\xNN` escapes, as the dispatch log writes values.
func displayWord(_ bytes: [UInt8]) -> String {
    let (text, needsQuotes) = escapedForDisplay(bytes)
    return needsQuotes ? "\"" + text + "\"" : text
}

/// `bytes` with the escapes of ``displayWord(_:)`` but without the quotes, and whether the
/// word needs them.
func escapedForDisplay(_ bytes: [UInt8]) -> (text: String, needsQuotes: Bool) {
    var needsQuotes = bytes.isEmpty || bytes.first == UInt8(ascii: "#")
    var quoted = ""
    forEachScalarOrByte(bytes) { scalar, byte in
        guard let scalar else {
            needsQuotes = true
            quoted += hexEscape(byte!)
            return
        }
        switch scalar {
        case "\"": needsQuotes = true; quoted += "\\\""
        case "\\": needsQuotes = true; quoted += "\\\\"
        case "\n": needsQuotes = true; quoted += "\\n"
        case "\t": needsQuotes = true; quoted += "\\t"
        case " ", "'": needsQuotes = true; quoted.unicodeScalars.append(scalar)
        default:
            if isPrintable(scalar) {
                quoted.unicodeScalars.append(scalar)
            } else {
                needsQuotes = true
                for unit in UTF8.encode(scalar)! { quoted += hexEscape(unit) }
            }
        }
    }
    return (quoted, needsQuotes)
}

private func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
    let value = scalar.value
    return value >= 0x20 && value != 0x7F && !(0x80...0x9F).contains(value)
}

private func hexEscape(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return "\\x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0xF)])
}

/// Calls `body` with each valid UTF-8 scalar of `bytes`, or with each byte of an invalid sequence.
private func forEachScalarOrByte(_ bytes: [UInt8], _ body: (Unicode.Scalar?, UInt8?) -> Void) {
    var iterator = bytes.makeIterator()
    var parser = Unicode.UTF8.ForwardParser()
    var offset = 0
    while true {
        switch parser.parseScalar(from: &iterator) {
        case .valid(let encoded):
            body(Unicode.UTF8.decode(encoded), nil)
            offset += encoded.count
        case .error(let length):
            for byte in bytes[offset..<offset + length] { body(nil, byte) }
            offset += length
        case .emptyInput:
            return
        }
    }
}
