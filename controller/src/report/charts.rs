//! The report's charts, drawn as SVG strings with plotters: op latency over time (every
//! op, coloured by outcome), latency quantiles over time, decisions per second over time.
//! Fault windows are shaded on all three: network faults in orange and labelled, nodes down
//! or paused in grey.

use super::data::{Data, Outcome, Window};
use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

const SIZE: (u32, u32) = (960, 340);
/// Points drawn for `ok` ops at most (the others are all drawn); the rest are sampled evenly.
pub const MAX_OK_POINTS: usize = 15_000;

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type PlotResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn svg(draw: impl FnOnce(&Area) -> PlotResult) -> Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
        draw(&root).map_err(|e| anyhow!("cannot draw a chart: {e}"))?;
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    Ok(out)
}

fn secs(us: u64) -> f64 {
    us as f64 / 1e6
}

fn window_style(w: &Window) -> ShapeStyle {
    if w.network {
        RGBColor(255, 140, 0).mix(0.15).filled()
    } else {
        RGBColor(90, 90, 90).mix(0.10).filled()
    }
}

/// Every op: when invoked (x) against how long it took (y, log scale).
pub fn latency_over_time(d: &Data) -> Result<String> {
    let x_max = secs(d.end_us).max(0.001);
    let y_max = d.ops.iter().map(|o| o.latency_us).max().unwrap_or(1000) as f64 / 1000.0 * 1.5 + 1.0;
    let y_min = 0.05;
    let oks: Vec<_> = d.ops.iter().filter(|o| o.outcome == Outcome::Ok).collect();
    let stride = oks.len().div_ceil(MAX_OK_POINTS).max(1);
    svg(|root| {
        let caption = if stride > 1 {
            format!("Op latency over time (1 in {stride} ok ops drawn; every info and fail)")
        } else {
            "Op latency over time".to_string()
        };
        let mut chart = ChartBuilder::on(root)
            .caption(caption, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..x_max, (y_min..y_max).log_scale())?;
        chart.configure_mesh().x_desc("seconds since the run started").y_desc("latency (ms)").draw()?;
        chart.draw_series(
            d.windows
                .iter()
                .map(|w| Rectangle::new([(secs(w.from_us), y_min), (secs(w.to_us), y_max)], window_style(w))),
        )?;
        // Labels on three staggered lines, so that faults starting together stay readable.
        chart.draw_series(d.windows.iter().filter(|w| w.network).enumerate().map(|(i, w)| {
            let y = y_max / 1.3 / 1.6f64.powi((i % 3) as i32);
            Text::new(w.label.clone(), (secs(w.from_us), y), ("sans-serif", 11).into_font())
        }))?;
        let point = |o: &super::data::Op| (secs(o.t_us), (o.latency_us as f64 / 1000.0).max(y_min));
        chart
            .draw_series(
                oks.iter().step_by(stride).map(|o| Circle::new(point(o), 1, GREEN.mix(0.6).filled())),
            )?
            .label("ok")
            .legend(|(x, y)| Circle::new((x, y), 3, GREEN.filled()));
        chart
            .draw_series(
                d.ops
                    .iter()
                    .filter(|o| o.outcome == Outcome::Info)
                    .map(|o| Circle::new(point(o), 2, RGBColor(230, 120, 0).filled())),
            )?
            .label("info")
            .legend(|(x, y)| Circle::new((x, y), 3, RGBColor(230, 120, 0).filled()));
        chart
            .draw_series(
                d.ops
                    .iter()
                    .filter(|o| o.outcome == Outcome::Fail)
                    .map(|o| Circle::new(point(o), 2, RED.filled())),
            )?
            .label("fail")
            .legend(|(x, y)| Circle::new((x, y), 3, RED.filled()));
        chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw()?;
        Ok(())
    })
}

/// Quantiles of `ok` latencies per second.
pub fn quantiles_over_time(d: &Data) -> Result<String> {
    let buckets = (d.end_us / 1_000_000 + 1) as usize;
    let mut per: Vec<Vec<u64>> = vec![Vec::new(); buckets];
    for o in d.ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        per[(o.t_us / 1_000_000) as usize].push(o.latency_us);
    }
    let mut series: [Vec<(f64, f64)>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for (s, lat) in per.iter_mut().enumerate() {
        if lat.is_empty() {
            continue;
        }
        lat.sort_unstable();
        for (k, q) in [0.5, 0.9, 0.99].into_iter().enumerate() {
            let i = ((lat.len() as f64 * q) as usize).min(lat.len() - 1);
            series[k].push((s as f64 + 0.5, (lat[i] as f64 / 1000.0).max(0.05)));
        }
    }
    let y_max = series.iter().flatten().map(|p| p.1).fold(1.0, f64::max) * 1.5;
    let x_max = secs(d.end_us).max(0.001);
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Op latency quantiles per second (ok ops)", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..x_max, (0.05f64..y_max).log_scale())?;
        chart.configure_mesh().x_desc("seconds since the run started").y_desc("latency (ms)").draw()?;
        chart.draw_series(
            d.windows
                .iter()
                .map(|w| Rectangle::new([(secs(w.from_us), 0.05), (secs(w.to_us), y_max)], window_style(w))),
        )?;
        let colors = [BLUE, RGBColor(200, 0, 160), RED];
        for (k, name) in ["p50", "p90", "p99"].into_iter().enumerate() {
            let color = colors[k];
            chart
                .draw_series(LineSeries::new(series[k].clone(), color.stroke_width(2)))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw()?;
        Ok(())
    })
}

/// Instances decided (first learned) per second.
pub fn decisions_per_second(d: &Data) -> Result<String> {
    let buckets = (d.end_us / 1_000_000 + 1) as usize;
    let mut per = vec![0u64; buckets];
    for &t in &d.first_learns_us {
        per[(t / 1_000_000) as usize] += 1;
    }
    let y_max = per.iter().copied().max().unwrap_or(1).max(1) as f64 * 1.15;
    let x_max = secs(d.end_us).max(0.001);
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Decisions per second", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
        chart.configure_mesh().x_desc("seconds since the run started").y_desc("decisions / s").draw()?;
        chart.draw_series(
            d.windows
                .iter()
                .map(|w| Rectangle::new([(secs(w.from_us), 0.0), (secs(w.to_us), y_max)], window_style(w))),
        )?;
        chart.draw_series(d.windows.iter().filter(|w| w.network).enumerate().map(|(i, w)| {
            let y = y_max * (0.97 - 0.06 * (i % 3) as f64);
            Text::new(w.label.clone(), (secs(w.from_us), y), ("sans-serif", 11).into_font())
        }))?;
        chart.draw_series(LineSeries::new(
            per.iter().enumerate().map(|(s, &n)| (s as f64 + 0.5, n as f64)),
            BLUE.stroke_width(2),
        ))?;
        Ok(())
    })
}
