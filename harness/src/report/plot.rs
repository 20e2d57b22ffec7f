//! SVG plots with `plotters`: the latency-percentile plot (x: 1/(1-p) on a log scale)
//! and the per-second throughput and latency series.

use super::Report;
use crate::record::SecondPoint;
use hdrhistogram::Histogram;
use plotters::prelude::*;

/// Width of each panel.
const W: u32 = 900;
/// Height of each panel.
const H: u32 = 320;

type PlotResult = Result<(), String>;

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// `(1/(1-p), latency ms)` points of `h`'s spectrum.
fn spectrum(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    h.iter_quantiles(5)
        .map(|v| {
            (
                v.quantile_iterated_to(),
                v.value_iterated_to() as f64 / 1000.0,
            )
        })
        .filter(|(q, _)| *q < 1.0)
        .map(|(q, ms)| (1.0 / (1.0 - q), ms))
        .collect()
}

/// The latency-percentile plot as an SVG document.
pub fn percentile_svg(r: &Report<'_>) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (W, H)).into_drawing_area();
        draw_percentiles(r, &root)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

/// The time series (throughput and latency per second) as an SVG document.
pub fn series_svg(r: &Report<'_>) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (W, H * 2)).into_drawing_area();
        let (top, bottom) = root.split_vertically(H);
        draw_throughput(&r.data.series, &top)?;
        draw_latency_series(&r.data.series, &bottom)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

/// All three panels in one SVG document (`--plot`).
pub fn all_svg(r: &Report<'_>) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (W, H * 3)).into_drawing_area();
        let panels = root.split_evenly((3, 1));
        draw_percentiles(r, &panels[0])?;
        draw_throughput(&r.data.series, &panels[1])?;
        draw_latency_series(&r.data.series, &panels[2])?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

fn draw_percentiles<DB: DrawingBackend>(
    r: &Report<'_>,
    area: &DrawingArea<DB, plotters::coord::Shift>,
) -> PlotResult
where
    DB::ErrorType: 'static,
{
    area.fill(&WHITE).map_err(err)?;
    let t = &r.data.total;
    let mut curves: Vec<(String, Vec<(f64, f64)>)> =
        vec![("latency (overall)".to_owned(), spectrum(&t.latency))];
    curves.push(("service time".to_owned(), spectrum(&t.service)));
    if r.entry_names.len() > 1 {
        for (n, e) in r.entry_names.iter().zip(&t.entries) {
            curves.push((n.clone(), spectrum(&e.latency)));
        }
    }
    let x_max = curves
        .iter()
        .flat_map(|c| c.1.iter().map(|p| p.0))
        .fold(10.0f64, f64::max)
        .max(10.0);
    let y_max = curves
        .iter()
        .flat_map(|c| c.1.iter().map(|p| p.1))
        .fold(0.001f64, f64::max)
        * 1.1;
    let title = if r.cfg.closed_loop() {
        "Latency by percentile (closed loop: biased)"
    } else {
        "Latency by percentile (corrected)"
    };
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d((1.0f64..x_max).log_scale(), 0.0f64..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("1/(1-percentile): 10 = p90, 100 = p99, 1000 = p99.9")
        .y_desc("latency (ms)")
        .draw()
        .map_err(err)?;
    for (i, (name, pts)) in curves.into_iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))
            .map_err(err)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(err)?;
    Ok(())
}

fn draw_throughput<DB: DrawingBackend>(
    s: &[SecondPoint],
    area: &DrawingArea<DB, plotters::coord::Shift>,
) -> PlotResult
where
    DB::ErrorType: 'static,
{
    area.fill(&WHITE).map_err(err)?;
    let x_max = s.len().max(1) as f64;
    let y_max = s.iter().map(|p| p.requests).max().unwrap_or(1).max(1) as f64 * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption("Throughput per second", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0f64..x_max, 0.0f64..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("second")
        .y_desc("requests/s")
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(
            s.iter().map(|p| (p.second as f64 + 0.5, p.requests as f64)),
            BLUE.stroke_width(2),
        ))
        .map_err(err)?
        .label("answered")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], BLUE));
    chart
        .draw_series(LineSeries::new(
            s.iter().map(|p| (p.second as f64 + 0.5, p.errors as f64)),
            RED.stroke_width(2),
        ))
        .map_err(err)?
        .label("errors")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], RED));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    Ok(())
}

fn draw_latency_series<DB: DrawingBackend>(
    s: &[SecondPoint],
    area: &DrawingArea<DB, plotters::coord::Shift>,
) -> PlotResult
where
    DB::ErrorType: 'static,
{
    area.fill(&WHITE).map_err(err)?;
    let x_max = s.len().max(1) as f64;
    let y_max = s.iter().map(|p| p.max_us).max().unwrap_or(1).max(1) as f64 / 1000.0 * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption("Latency per second", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0f64..x_max, 0.0f64..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("second")
        .y_desc("latency (ms)")
        .draw()
        .map_err(err)?;
    type Pick = fn(&SecondPoint) -> u64;
    let lines: [(&str, RGBColor, Pick); 3] = [
        ("p50", GREEN, |p| p.p50_us),
        ("p99", MAGENTA, |p| p.p99_us),
        ("max", RED, |p| p.max_us),
    ];
    for (name, color, f) in lines {
        chart
            .draw_series(LineSeries::new(
                s.iter()
                    .map(|p| (p.second as f64 + 0.5, f(p) as f64 / 1000.0)),
                color.stroke_width(2),
            ))
            .map_err(err)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    Ok(())
}
