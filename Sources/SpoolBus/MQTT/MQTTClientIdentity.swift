/// The client id a `broker` line without `client-id=` uses: fixed across restarts (so the broker
/// keeps the session) and different for each spool on the machine (two daemons of one host
/// taking each other's session over would lose messages): `spoolbus-HOST-NAME-XXXXXXXX`, the
/// last part a hash of the spool's path.
enum MQTTClientIdentity {
    static func defaultClientID(broker: String, spool: Bytes) -> String {
        var hash: UInt32 = 0x811C_9DC5
        for byte in spool { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
        let host = SystemInfo.hostName.unicodeScalars.filter { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-") }
        let hex = String(hash, radix: 16)
        return "spoolbus-\(String(String.UnicodeScalarView(host.prefix(40))))-\(broker)-" + String(repeating: "0", count: 8 - hex.count) + hex
    }
}
