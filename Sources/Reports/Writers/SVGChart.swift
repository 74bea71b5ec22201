import Foundation

/// Inline SVG line and bar charts for the HTML report. No scripts, no external resources:
/// the chart is plain markup that prints and archives with the page.
enum SVGChart {
    static let width = 640.0
    static let height = 320.0
    private static let margin = (left: 76.0, right: 32.0, top: 46.0, bottom: 52.0)
    // Colour-blind-safe palette (Okabe–Ito).
    private static let palette = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#000000"]

    /// One chart per group of series that share chart kind and axes, in first-seen order.
    static func charts(for series: [DataSeries]) -> [String] {
        var groups: [[DataSeries]] = []
        for item in series {
            if let index = groups.firstIndex(where: { $0[0].chart == item.chart && $0[0].x == item.x && $0[0].y == item.y }) {
                groups[index].append(item)
            } else {
                groups.append([item])
            }
        }
        return groups.map(render)
    }

    private static func render(_ group: [DataSeries]) -> String {
        let first = group[0]
        let title = group.count == 1 ? first.name : "\(first.y.label) by \(first.x.label)"
        let plottable = group.map { series in
            series.points.filter { point in
                point.x.isFinite && point.y.isFinite
                    && (first.x.scale == .linear || point.x > 0)
                    && (first.y.scale == .linear || point.y > 0)
            }
        }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"\(Int(width))\" height=\"\(Int(height))\""
            + " viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(MarkupText.attribute(title))\">\n"
        svg += "<rect x=\"0\" y=\"0\" width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"#ffffff\" stroke=\"#d1d9e0\"/>\n"
        svg += text(title, x: width / 2, y: 18, anchor: "middle", weight: "bold")
        svg += legend(group)

        let allPoints = plottable.flatMap { $0 }
        guard !allPoints.isEmpty else {
            svg += text("no plottable points", x: width / 2, y: height / 2, anchor: "middle")
            return svg + "</svg>"
        }
        let plot = (x0: margin.left, x1: width - margin.right, y0: margin.top, y1: height - margin.bottom)
        let yAxis = Axis.value(allPoints.map(\.y), scale: first.y.scale, from: plot.y1, to: plot.y0)
        svg += "<g class=\"grid\">\n"
        for tick in yAxis.ticks {
            let y = yAxis.position(tick.value)
            svg += line(x1: plot.x0, y1: y, x2: plot.x1, y2: y, stroke: "#e6eaef")
            svg += text(tick.label, x: plot.x0 - 6, y: y + 4, anchor: "end")
        }
        svg += "</g>\n"

        switch first.chart {
        case .line:
            let xAxis = Axis.value(allPoints.map(\.x), scale: first.x.scale, from: plot.x0, to: plot.x1, includeZero: false)
            for tick in xAxis.ticks {
                let x = xAxis.position(tick.value)
                svg += line(x1: x, y1: plot.y1, x2: x, y2: plot.y1 + 5, stroke: "#59636e")
                svg += text(tick.label, x: x, y: plot.y1 + 18, anchor: "middle")
            }
            for (index, points) in plottable.enumerated() {
                let color = palette[index % palette.count]
                let sorted = points.sorted { $0.x < $1.x }
                let coordinates = sorted.map { "\(number(xAxis.position($0.x))),\(number(yAxis.position($0.y)))" }
                svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(coordinates.joined(separator: " "))\"/>\n"
                for point in sorted {
                    svg += "<circle cx=\"\(number(xAxis.position(point.x)))\" cy=\"\(number(yAxis.position(point.y)))\" r=\"3\" fill=\"\(color)\">"
                        + "<title>\(MarkupText.text(tooltip(group[index], point)))</title></circle>\n"
                }
            }
        case .bar:
            let categories = Array(Set(allPoints.map(\.x))).sorted()
            let band = (plot.x1 - plot.x0) / Double(categories.count)
            let barWidth = band * 0.8 / Double(group.count)
            let baseline = yAxis.position(first.y.scale == .log ? yAxis.lowest : min(max(0, yAxis.lowest), yAxis.highest))
            for (categoryIndex, category) in categories.enumerated() {
                let center = plot.x0 + band * (Double(categoryIndex) + 0.5)
                svg += text(NumberText.value(category), x: center, y: plot.y1 + 18, anchor: "middle")
                for (seriesIndex, points) in plottable.enumerated() {
                    guard let point = points.first(where: { $0.x == category }) else { continue }
                    let top = yAxis.position(point.y)
                    let x = center - band * 0.4 + barWidth * Double(seriesIndex)
                    svg += "<rect class=\"bar\" x=\"\(number(x))\" y=\"\(number(min(top, baseline)))\" width=\"\(number(barWidth))\""
                        + " height=\"\(number(abs(baseline - top)))\" fill=\"\(palette[seriesIndex % palette.count])\">"
                        + "<title>\(MarkupText.text(tooltip(group[seriesIndex], point)))</title></rect>\n"
                }
            }
        }
        svg += line(x1: plot.x0, y1: plot.y1, x2: plot.x1, y2: plot.y1, stroke: "#59636e")
        svg += line(x1: plot.x0, y1: plot.y0, x2: plot.x0, y2: plot.y1, stroke: "#59636e")
        svg += text(axisTitle(first.x), x: (plot.x0 + plot.x1) / 2, y: height - 12, anchor: "middle")
        let yCenter = (plot.y0 + plot.y1) / 2
        svg += "<text x=\"16\" y=\"\(number(yCenter))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(number(yCenter)))\">"
            + MarkupText.text(axisTitle(first.y)) + "</text>\n"
        return svg + "</svg>"
    }

    private static func legend(_ group: [DataSeries]) -> String {
        guard group.count > 1 else { return "" }
        var svg = ""
        var x = margin.left
        for (index, series) in group.enumerated() {
            svg += "<rect x=\"\(number(x))\" y=\"27\" width=\"10\" height=\"10\" fill=\"\(palette[index % palette.count])\"/>\n"
            svg += text(series.name, x: x + 14, y: 36, anchor: "start")
            // Rough advance for an 11 px sans-serif face; legends are short series names.
            x += 14 + Double(series.name.count) * 6.5 + 18
        }
        return svg
    }

    private static func tooltip(_ series: DataSeries, _ point: DataPoint) -> String {
        "\(series.name): \(series.x.label) \(NumberText.value(point.x)) \(series.x.unit), "
            + "\(series.y.label) \(NumberText.value(point.y)) \(series.y.unit)"
    }

    /// `Message size (B, log scale)`; a unit that only repeats the label (`IOPS`) is left out.
    private static func axisTitle(_ axis: ChartAxis) -> String {
        let notes = [axis.unit == axis.label ? "" : axis.unit, axis.scale == .log ? "log scale" : ""].filter { !$0.isEmpty }
        return notes.isEmpty ? axis.label : "\(axis.label) (\(notes.joined(separator: ", ")))"
    }

    private static func text(_ content: String, x: Double, y: Double, anchor: String, weight: String = "normal") -> String {
        "<text x=\"\(number(x))\" y=\"\(number(y))\" text-anchor=\"\(anchor)\" font-weight=\"\(weight)\">"
            + MarkupText.text(content) + "</text>\n"
    }

    private static func line(x1: Double, y1: Double, x2: Double, y2: Double, stroke: String) -> String {
        "<line x1=\"\(number(x1))\" y1=\"\(number(y1))\" x2=\"\(number(x2))\" y2=\"\(number(y2))\" stroke=\"\(stroke)\"/>\n"
    }

    private static func number(_ value: Double) -> String {
        NumberText.fixed(value, decimals: 1)
    }

    /// Maps data values to pixel positions and chooses labelled ticks.
    private struct Axis {
        var lowest: Double
        var highest: Double
        var scale: AxisScale
        var from: Double
        var to: Double
        var ticks: [(value: Double, label: String)]

        func position(_ value: Double) -> Double {
            let fraction: Double
            switch scale {
            // Halving first keeps spans near Double's limits finite.
            case .linear: fraction = (value / 2 - lowest / 2) / (highest / 2 - lowest / 2)
            case .log: fraction = (log10(value) - log10(lowest)) / (log10(highest) - log10(lowest))
            }
            return from + (fraction.isFinite ? min(max(fraction, 0), 1) : 0) * (to - from)
        }

        static func value(_ values: [Double], scale: AxisScale, from: Double, to: Double, includeZero: Bool = true) -> Axis {
            var low = values.min() ?? 0
            var high = values.max() ?? 1
            switch scale {
            case .log:
                let distinct = Array(Set(values)).sorted()
                if low == high { low /= 10; high *= 10 }
                let decades = Int(floor(log10(low)))...Int(ceil(log10(high)))
                let decadeStride = max(1, decades.count / 10)
                let ticks = distinct.count <= 12
                    ? distinct
                    : stride(from: decades.lowerBound, through: decades.upperBound, by: decadeStride)
                        .map { pow(10, Double($0)) }.filter { $0 >= low && $0 <= high }
                return Axis(lowest: low, highest: high, scale: .log, from: from, to: to,
                            ticks: ticks.map { ($0, NumberText.value($0)) })
            case .linear:
                if includeZero { low = min(low, 0); high = max(high, 0) }
                if low == high { low -= 1; high += 1 }
                let step = niceStep((high - low) / 5)
                let niceLow = (low / step).rounded(.down) * step
                let niceHigh = (high / step).rounded(.up) * step
                let stepCount = ((niceHigh - niceLow) / step).rounded()
                guard step > 0, stepCount.isFinite, stepCount <= 20 else {
                    // Spans near the limits of Double get plain end ticks instead of nice steps.
                    return Axis(lowest: low, highest: high, scale: .linear, from: from, to: to,
                                ticks: [(low, NumberText.value(low)), (high, NumberText.value(high))])
                }
                let decimals = max(0, -Int(floor(log10(step))))
                let ticks = (0...Int(stepCount)).map { index -> (Double, String) in
                    let value = niceLow + Double(index) * step
                    return (value, NumberText.fixed(value, decimals: decimals))
                }
                return Axis(lowest: niceLow, highest: niceHigh, scale: .linear, from: from, to: to, ticks: ticks)
            }
        }

        /// 1, 2 or 5 times a power of ten, at least `rough`.
        private static func niceStep(_ rough: Double) -> Double {
            let magnitude = pow(10, floor(log10(rough)))
            let normalized = rough / magnitude
            let factor: Double = normalized <= 1 ? 1 : normalized <= 2 ? 2 : normalized <= 5 ? 5 : 10
            return factor * magnitude
        }
    }
}
