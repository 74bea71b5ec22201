extension Duration {
    /// The duration in seconds, as a floating-point number (figures, rates).
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// The whole duration in nanoseconds (timestamps carried in packets, histograms).
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
