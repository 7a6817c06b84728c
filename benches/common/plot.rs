//! Line charts as SVG for the harnesses' results (plotters, SVG backend:
//! no fonts or system libraries needed), drawn beside their JSON.

use plotters::prelude::*;
use std::path::Path;

/// One line of a chart: its label and its points.
pub(crate) struct Series {
    pub(crate) label: String,
    pub(crate) points: Vec<(f64, f64)>,
}

/// What a chart shows.
pub(crate) struct Chart<'a> {
    pub(crate) title: &'a str,
    pub(crate) x: &'a str,
    pub(crate) y: &'a str,
    /// Labels for x = 0, 1, 2, ... instead of numbers (a categorical axis).
    pub(crate) x_names: Option<Vec<String>>,
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Draws `series` on one chart into `path`.
///
/// # Errors
///
/// When the file cannot be written.
pub(crate) fn lines(
    path: &Path,
    chart: &Chart<'_>,
    series: &[Series],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (760, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let all = || series.iter().flat_map(|s| s.points.iter().copied());
    let x_max = all().map(|p| p.0).fold(1.0, f64::max);
    let y_max = all().map(|p| p.1).fold(1.0, f64::max) * 1.15;
    let x_min = if chart.x_names.is_some() { -0.5 } else { 0.0 };
    let x_end = if chart.x_names.is_some() {
        x_max + 0.5
    } else {
        x_max * 1.05
    };
    let mut c = ChartBuilder::on(&root)
        .caption(chart.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(x_min..x_end, 0f64..y_max)?;
    let names = chart.x_names.clone();
    let formatter = move |x: &f64| match &names {
        Some(names) if (x.round() - x).abs() < 1e-9 && *x >= 0.0 => {
            names.get(x.round() as usize).cloned().unwrap_or_default()
        }
        Some(_) => String::new(),
        None => format!("{x}"),
    };
    let mut mesh = c.configure_mesh();
    mesh.x_desc(chart.x)
        .y_desc(chart.y)
        .x_label_formatter(&formatter);
    if let Some(names) = &chart.x_names {
        mesh.x_labels(names.len() * 2 + 1);
    }
    mesh.draw()?;
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        c.draw_series(LineSeries::new(s.points.clone(), &color))?
            .label(s.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        c.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
    }
    c.configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()?;
    root.present()?;
    Ok(())
}
