//! Charts as inline SVG for the HTML report: a time axis from 0 to the end of the run, series
//! as paths (`data-points` says how many points each drew), fault windows as bands. Numbers
//! are printed with one decimal, so the same data gives the same bytes.

use super::html::esc;
use std::fmt::Write;

pub const WIDTH: f64 = 880.0;
pub const LEFT: f64 = 72.0;
pub const RIGHT: f64 = 28.0;
pub const TOP: f64 = 12.0;
pub const BOTTOM: f64 = 26.0;

/// A tick label: `0`, `45s`, `2m`, `2m30s`, `1h`, `1h30m` (ticks fall on whole seconds).
pub fn time_label(ns: u64) -> String {
    let s = ns / 1_000_000_000;
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if sec > 0 || out.is_empty() && s > 0 {
        out.push_str(&format!("{sec}s"));
    }
    if out.is_empty() {
        out.push('0');
    }
    out
}

/// A number for SVG coordinates: one decimal, no `-0.0`.
pub fn n(v: f64) -> String {
    let s = format!("{v:.1}");
    if s == "-0.0" { "0.0".into() } else { s }
}

/// One line of a chart: points (time, value); `None` breaks the line.
pub struct Series<'a> {
    pub name: &'a str,
    pub points: Vec<(u64, Option<f64>)>,
    /// Draw as steps (a state held until the next sample) rather than straight segments.
    pub step: bool,
}

/// Horizontal bands (fault windows) drawn behind the series.
pub type Bands = [(u64, u64)];

/// Tick spacing for a time axis of `end` ns: about 6 to 10 ticks on round values.
pub fn time_ticks(end: u64) -> Vec<u64> {
    const S: u64 = 1_000_000_000;
    let candidates = [
        S,
        2 * S,
        5 * S,
        10 * S,
        15 * S,
        30 * S,
        60 * S,
        120 * S,
        300 * S,
        600 * S,
        900 * S,
        1800 * S,
        3600 * S,
        7200 * S,
        6 * 3600 * S,
        12 * 3600 * S,
        24 * 3600 * S,
    ];
    let step = candidates
        .iter()
        .copied()
        .find(|c| end / c <= 10)
        .unwrap_or(end.max(1));
    (0..=end / step).map(|i| i * step).collect()
}

/// An SVG chart: time on x (0 to `end` ns), `series` on y from 0 to `y_max`.
pub fn chart(
    id: &str,
    title: &str,
    end: u64,
    y_max: f64,
    y_unit: &str,
    series: &[Series<'_>],
    bands: &Bands,
) -> String {
    let height = 150.0;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = height - TOP - BOTTOM;
    let end = end.max(1);
    let x = |t: u64| LEFT + plot_w * (t.min(end) as f64 / end as f64);
    let y_max = if y_max > 0.0 { y_max } else { 1.0 };
    let y = |v: f64| TOP + plot_h * (1.0 - (v / y_max).clamp(0.0, 1.0));
    let mut s = format!(r#"<div class="cap">{}</div>"#, esc(title));
    let _ = write!(
        s,
        r#"<svg class="chart" id="{}" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-label="{}" data-end-ns="{end}" data-left="{LEFT}" data-plot-width="{plot_w}" data-series="{}">"#,
        esc(id),
        esc(title),
        series.len()
    );
    let _ = write!(s, "<title>{}</title>", esc(title));
    for (a, b) in bands {
        let _ = write!(
            s,
            r#"<rect class="band" x="{}" y="{TOP}" width="{}" height="{plot_h}"/>"#,
            n(x(*a)),
            n(x(*b) - x(*a))
        );
    }
    for frac in [0.0, 0.5, 1.0] {
        let v = y_max * frac;
        let yy = n(y(v));
        let _ = write!(
            s,
            r#"<line class="grid" x1="{LEFT}" x2="{}" y1="{yy}" y2="{yy}"/><text x="{}" y="{}" text-anchor="end">{}{}</text>"#,
            n(LEFT + plot_w),
            n(LEFT - 4.0),
            n(y(v) + 4.0),
            trim_number(v),
            esc(y_unit)
        );
    }
    let _ = write!(
        s,
        r#"<line class="axis" x1="{LEFT}" x2="{}" y1="{}" y2="{}"/>"#,
        n(LEFT + plot_w),
        n(TOP + plot_h),
        n(TOP + plot_h)
    );
    for t in time_ticks(end) {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            n(x(t)),
            n(height - 8.0),
            time_label(t)
        );
    }
    for (i, line) in series.iter().enumerate() {
        let mut d = String::new();
        let mut points = 0;
        let mut pen_down = false;
        for (t, v) in &line.points {
            match v {
                None => pen_down = false,
                Some(v) => {
                    let (px, py) = (x(*t), y(*v));
                    if !pen_down {
                        let _ = write!(d, "M{} {}", n(px), n(py));
                    } else if line.step {
                        let _ = write!(d, "H{}V{}", n(px), n(py));
                    } else {
                        let _ = write!(d, "L{} {}", n(px), n(py));
                    }
                    // A lone point still draws: a short tick.
                    if !pen_down {
                        let _ = write!(d, "h0.1");
                    }
                    pen_down = true;
                    points += 1;
                }
            }
        }
        let _ = write!(
            s,
            r#"<path class="series s{}" data-name="{}" data-points="{points}" d="{d}"><title>{}</title></path>"#,
            i % 4,
            esc(line.name),
            esc(line.name)
        );
    }
    s.push_str("</svg>");
    s.push_str(r#"<div class="readout"></div>"#);
    if series.len() > 1 {
        s.push_str(r#"<div class="legend">"#);
        let colours = ["#1f6feb", "#e8590c", "#2f9e44", "#9c36b5"];
        for (i, line) in series.iter().enumerate() {
            let _ = write!(
                s,
                r#"<span><i style="background:{}"></i>{}</span>"#,
                colours[i % 4],
                esc(line.name)
            );
        }
        s.push_str("</div>");
    }
    s
}

/// `0.5` → `0.5`, `100.0` → `100`.
pub fn trim_number(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

/// A round upper bound for a chart's y axis.
pub fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if v <= m * mag {
            return m * mag;
        }
    }
    10.0 * mag
}
