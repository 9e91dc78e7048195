//! Plots of what privacy buys and costs, as PNG and SVG (plotters, no Python): accuracy
//! against epsilon, the membership-inference ROC curve on log-log axes, and the training
//! loss per epoch.
//!
//! Text is drawn with a subset of DejaVu Sans shipped in the crate (`assets/fonts`), so
//! plots carry their labels on a machine without any system font. Behind the `plots`
//! feature.
//!
//! ```no_run
//! use shroud::train::plot::{loss_per_epoch, Curve};
//! let curves = [Curve { name: "epsilon 3".into(), points: vec![(1.0, 0.6), (2.0, 0.5)] }];
//! let files = loss_per_epoch(std::path::Path::new("out/loss"), &curves).unwrap();
//! assert_eq!(files.len(), 2); // out/loss.png and out/loss.svg
//! ```

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::TrainError;

/// Width and height of every plot, in pixels.
pub const SIZE: (u32, u32) = (900, 600);

static FONT: Once = Once::new();
static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-subset.ttf");

fn register_font() {
    FONT.call_once(|| {
        for family in ["sans-serif", "serif", "monospace"] {
            // the shipped font parses (tests draw with it), so this cannot fail
            let _ = plotters::style::register_font(family, FontStyle::Normal, FONT_BYTES);
        }
    });
}

/// A named line: (x, y) points.
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    /// The legend entry.
    pub name: String,
    /// The points, in drawing order.
    pub points: Vec<(f64, f64)>,
}

/// A named series of (x, mean, confidence half-width) points, drawn with error bars.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorSeries {
    /// The legend entry.
    pub name: String,
    /// (x, mean, half-width of the interval).
    pub points: Vec<(f64, f64, f64)>,
    /// A label drawn beside each point (e.g. its noise multiplier), or empty.
    pub labels: Vec<String>,
}

fn plot_err<E: std::fmt::Display>(e: E) -> TrainError {
    TrainError::Plot(e.to_string())
}

/// Draws with `$draw(&root, args..)` into `stem.png` and `stem.svg`; the two paths.
macro_rules! both {
    ($stem:expr, $draw:ident($($arg:expr),*)) => {{
        register_font();
        let png = $stem.with_extension("png");
        let svg = $stem.with_extension("svg");
        {
            let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
            $draw(&root, $($arg),*)?;
            root.present().map_err(plot_err)?;
        }
        {
            let root = SVGBackend::new(&svg, SIZE).into_drawing_area();
            $draw(&root, $($arg),*)?;
            root.present().map_err(plot_err)?;
        }
        Ok(vec![png, svg])
    }};
}

fn color(i: usize) -> RGBColor {
    // the ten colours of matplotlib's tab10
    const PALETTE: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    PALETTE[i % PALETTE.len()]
}

/// The range of `values` widened by 5 % (and to a unit width when they are all equal);
/// [0, 1] when there are none.
fn span(values: impl Iterator<Item = f64>) -> Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    let pad = if hi > lo { (hi - lo) * 0.05 } else { 0.5 };
    (lo - pad)..(hi + pad)
}

type Area<DB> = DrawingArea<DB, Shift>;

/// Accuracy against epsilon, one line with error bars per series, and the non-private
/// baseline (mean, half-width) as a horizontal line with its band.
///
/// # Errors
/// [`TrainError::Plot`] when a file cannot be written.
pub fn accuracy_vs_epsilon(
    stem: &Path,
    series: &[ErrorSeries],
    baseline: Option<(f64, f64)>,
) -> Result<Vec<PathBuf>, TrainError> {
    let xs = span(series.iter().flat_map(|s| s.points.iter().map(|p| p.0)));
    let x_range = xs.start.max(0.0)..xs.end;
    let ys = span(
        series
            .iter()
            .flat_map(|s| s.points.iter().flat_map(|p| [p.1 - p.2, p.1 + p.2]))
            .chain(baseline.iter().flat_map(|b| [b.0 - b.1, b.0 + b.1])),
    );
    let y_range = ys.start.max(0.0)..ys.end.min(1.0).max(ys.start.max(0.0) + 0.01);
    both!(stem, draw_accuracy(series, baseline, &x_range, &y_range))
}

fn draw_accuracy<DB: DrawingBackend>(
    root: &Area<DB>,
    series: &[ErrorSeries],
    baseline: Option<(f64, f64)>,
    x_range: &Range<f64>,
    y_range: &Range<f64>,
) -> Result<(), TrainError> {
    root.fill(&WHITE).map_err(plot_err)?;
    let mut chart = ChartBuilder::on(root)
        .caption("Holdout accuracy against epsilon", ("sans-serif", 24))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(x_range.clone(), y_range.clone())
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc("epsilon (delta fixed)")
        .y_desc("accuracy (mean, 95 % CI)")
        .draw()
        .map_err(plot_err)?;
    if let Some((m, h)) = baseline {
        let band = [(x_range.start, m - h), (x_range.end, m + h)];
        chart
            .draw_series(std::iter::once(Rectangle::new(
                band,
                BLACK.mix(0.08).filled(),
            )))
            .map_err(plot_err)?;
        chart
            .draw_series(LineSeries::new(
                [(x_range.start, m), (x_range.end, m)],
                BLACK.stroke_width(2),
            ))
            .map_err(plot_err)?
            .label("not private")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK));
    }
    for (i, s) in series.iter().enumerate() {
        let c = color(i);
        chart
            .draw_series(LineSeries::new(
                s.points.iter().map(|p| (p.0, p.1)),
                c.stroke_width(2),
            ))
            .map_err(plot_err)?
            .label(s.name.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c));
        chart
            .draw_series(
                s.points
                    .iter()
                    .map(|&(x, m, h)| ErrorBar::new_vertical(x, m - h, m, m + h, c.filled(), 8)),
            )
            .map_err(plot_err)?;
        chart
            .draw_series(s.points.iter().zip(&s.labels).map(|(&(x, m, _), l)| {
                Text::new(l.clone(), (x, m), ("sans-serif", 13).into_font())
            }))
            .map_err(plot_err)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(plot_err)?;
    Ok(())
}

/// Lowest rate drawn on the log axes of [`roc_log_log`].
pub const LOG_FLOOR: f64 = 1e-4;

/// Membership-inference ROC curves on log-log axes (TPR against FPR), with the chance
/// diagonal and, for each (name, epsilon, delta), the ceiling TPR <= e^eps FPR + delta.
/// Rates below [`LOG_FLOOR`] are drawn at the floor.
///
/// # Errors
/// [`TrainError::Plot`] when a file cannot be written.
pub fn roc_log_log(
    stem: &Path,
    curves: &[Curve],
    ceilings: &[(String, f64, f64)],
) -> Result<Vec<PathBuf>, TrainError> {
    both!(stem, draw_roc(curves, ceilings))
}

fn draw_roc<DB: DrawingBackend>(
    root: &Area<DB>,
    curves: &[Curve],
    ceilings: &[(String, f64, f64)],
) -> Result<(), TrainError> {
    let grid: Vec<f64> = (0..=80)
        .map(|i| 10f64.powf(-4.0 + f64::from(i) / 20.0))
        .collect();
    root.fill(&WHITE).map_err(plot_err)?;
    let mut chart = ChartBuilder::on(root)
        .caption("Membership inference ROC (log-log)", ("sans-serif", 24))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d((LOG_FLOOR..1.0).log_scale(), (LOG_FLOOR..1.0).log_scale())
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc("false positive rate")
        .y_desc("true positive rate")
        .x_label_formatter(&|v| format!("{v:.0e}"))
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .draw()
        .map_err(plot_err)?;
    chart
        .draw_series(LineSeries::new(
            grid.iter().map(|&f| (f, f)),
            BLACK.mix(0.5).stroke_width(1),
        ))
        .map_err(plot_err)?
        .label("chance")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.5)));
    for (i, (name, eps, delta)) in ceilings.iter().enumerate() {
        let c = color(i + curves.len());
        chart
            .draw_series(DashedLineSeries::new(
                grid.iter().map(|&f| {
                    (
                        f,
                        super::mia::dp_tpr_ceiling(*eps, *delta, f).max(LOG_FLOOR),
                    )
                }),
                6,
                4,
                c.stroke_width(2),
            ))
            .map_err(plot_err)?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c));
    }
    for (i, cv) in curves.iter().enumerate() {
        let c = color(i);
        chart
            .draw_series(LineSeries::new(
                cv.points
                    .iter()
                    .map(|&(f, t)| (f.max(LOG_FLOOR), t.max(LOG_FLOOR))),
                c.stroke_width(2),
            ))
            .map_err(plot_err)?
            .label(cv.name.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(plot_err)?;
    Ok(())
}

/// Training loss per epoch, one line per run.
///
/// # Errors
/// [`TrainError::Plot`] when a file cannot be written.
pub fn loss_per_epoch(stem: &Path, curves: &[Curve]) -> Result<Vec<PathBuf>, TrainError> {
    let xs = span(curves.iter().flat_map(|c| c.points.iter().map(|p| p.0)));
    let ys = span(curves.iter().flat_map(|c| c.points.iter().map(|p| p.1)));
    let y_range = ys.start.max(0.0)..ys.end;
    both!(stem, draw_loss(curves, &xs, &y_range))
}

fn draw_loss<DB: DrawingBackend>(
    root: &Area<DB>,
    curves: &[Curve],
    x_range: &Range<f64>,
    y_range: &Range<f64>,
) -> Result<(), TrainError> {
    root.fill(&WHITE).map_err(plot_err)?;
    let mut chart = ChartBuilder::on(root)
        .caption("Training loss per epoch", ("sans-serif", 24))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(x_range.clone(), y_range.clone())
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("mean cross-entropy of the sampled batches")
        .draw()
        .map_err(plot_err)?;
    for (i, cv) in curves.iter().enumerate() {
        let c = color(i);
        chart
            .draw_series(LineSeries::new(
                cv.points.iter().copied().filter(|p| p.1.is_finite()),
                c.stroke_width(2),
            ))
            .map_err(plot_err)?
            .label(cv.name.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(plot_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_pads_and_handles_degenerate_input() {
        assert_eq!(span([].into_iter()), 0.0..1.0);
        assert_eq!(span([2.0].into_iter()), 1.5..2.5);
        let r = span([0.0, 10.0, f64::NAN].into_iter());
        assert!((r.start + 0.5).abs() < 1e-12 && (r.end - 10.5).abs() < 1e-12);
    }
}
