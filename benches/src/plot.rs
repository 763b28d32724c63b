//! A bar chart of ratios (B/A, 1.0 = the same as bare axum) as SVG, drawn with `plotters`'
//! SVG backend: text goes out as SVG `<text>` elements, so no system font library is needed.

use std::path::Path;

use plotters::prelude::*;

/// One bar: what it compares and its ratio.
#[derive(Debug, Clone)]
pub struct Bar {
    /// The label written beside the bar.
    pub label: String,
    /// The ratio B/A.
    pub ratio: f64,
}

/// Draws `bars` horizontally with a reference line at 1.0 and writes the SVG to `path`.
pub fn draw_ratios(
    path: &Path,
    title: &str,
    bars: &[Bar],
) -> Result<(), Box<dyn std::error::Error>> {
    let rows = u32::try_from(bars.len().max(1))?;
    let height = 90 + 44 * rows;
    let root = SVGBackend::new(path, (860, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let max = bars.iter().map(|b| b.ratio).fold(1.5_f64, f64::max) * 1.15;
    #[allow(clippy::cast_precision_loss)]
    let n = bars.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(36)
        .build_cartesian_2d(0.0..max, 0.0..n)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_desc("ratio to bare axum (1.0 = same)")
        .x_label_formatter(&|x| format!("{x:.1}"))
        .draw()?;
    for (i, bar) in bars.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let y = n - i as f64;
        let color = if bar.ratio <= 1.10 {
            BLUE.mix(0.55)
        } else {
            RED.mix(0.55)
        };
        chart.draw_series(std::iter::once(Rectangle::new(
            [(0.0, y - 0.9), (bar.ratio, y - 0.5)],
            color.filled(),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            format!("{}  {:.2}x", bar.label, bar.ratio),
            (0.02 * max, y - 0.1),
            ("sans-serif", 14).into_font().color(&BLACK),
        )))?;
    }
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(1.0, 0.0), (1.0, n)],
        BLACK.stroke_width(2),
    )))?;
    root.present()?;
    Ok(())
}
