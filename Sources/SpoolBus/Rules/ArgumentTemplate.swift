/// One handler argument after shell-like word splitting; placeholders are kept apart so a
/// substituted file name can never become two arguments.
public struct ArgumentTemplate: Sendable, Equatable {
    public enum Piece: Sendable, Equatable {
        case literal([UInt8])
        case placeholder(Placeholder)
    }

    public var pieces: [Piece]

    public init(pieces: [Piece]) {
        self.pieces = pieces
    }

    /// A template without placeholders.
    public init(literal bytes: [UInt8]) {
        self.pieces = bytes.isEmpty ? [] : [.literal(bytes)]
    }

    /// The argument with each placeholder replaced by `value(placeholder)`, byte for byte.
    public func expand(_ value: (Placeholder) -> [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        for piece in pieces {
            switch piece {
            case .literal(let literal): bytes += literal
            case .placeholder(let placeholder): bytes += value(placeholder)
            }
        }
        return bytes
    }

    /// The placeholders the argument uses, in order.
    public var placeholders: [Placeholder] {
        pieces.compactMap {
            if case .placeholder(let placeholder) = $0 { return placeholder }
            return nil
        }
    }
}
