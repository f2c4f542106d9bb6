//! The report's figures, drawn once per backend: SVG always, PNG when a TTF font is known.
//!
//! plotters (built without system font libraries) can only measure text with a registered
//! font. SVG text is laid out by the browser, so [`Svg`] estimates text sizes from the font
//! size instead: SVG output then needs no font and is identical on every machine. Bitmaps
//! must rasterise glyphs, so PNGs are drawn only after [`use_font`] registered one.
//! Legends are drawn by hand for the same reason (plotters' legend measures with the font).

use crate::error::{Error, Result};
use crate::metrics::Curve;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, RGBColor};
// The backend style traits stay unimported: their `stroke_width` would shadow plotters' own.
use plotters_backend::{BackendColor, BackendCoord, DrawingErrorKind};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One colour per model (Tableau 10), then repeated.
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

const BENIGN: RGBColor = RGBColor(31, 119, 180);
const MALICIOUS: RGBColor = RGBColor(214, 39, 40);
const GREY: RGBColor = RGBColor(150, 150, 150);

static FONT: OnceLock<PathBuf> = OnceLock::new();

/// Directories searched for a TTF when no font is given.
pub const FONT_DIRS: [&str; 3] = [
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "/Library/Fonts",
];

/// Preferred fonts first (metrics close to what SVG viewers substitute for `sans-serif`).
fn font_rank(p: &Path) -> u8 {
    let n = p
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match n.as_str() {
        "dejavusans.ttf" => 0,
        "liberationsans-regular.ttf" => 1,
        _ if n.contains("sans") && !n.contains("bold") && !n.contains("oblique") => 2,
        _ => 3,
    }
}

/// The best TTF under the usual font directories, if any.
pub fn find_font() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    let mut stack: Vec<PathBuf> = FONT_DIRS.iter().map(PathBuf::from).collect();
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in rd.flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("ttf")) {
                found.push(p);
            }
        }
    }
    found.sort_by(|a, b| font_rank(a).cmp(&font_rank(b)).then(a.cmp(b)));
    found.into_iter().next()
}

/// Register `path` (or the font [`find_font`] finds) for PNG text. Returns the font in use;
/// `Ok(None)` when none was given or found. Once registered, a font stays for the process.
pub fn use_font(path: Option<&Path>) -> Result<Option<PathBuf>> {
    if let Some(p) = FONT.get() {
        return Ok(Some(p.clone()));
    }
    let chosen = match path {
        Some(p) => p.to_owned(),
        None => match find_font() {
            Some(p) => p,
            None => return Ok(None),
        },
    };
    let bytes = std::fs::read(&chosen).map_err(crate::error::io(&chosen))?;
    // plotters keeps fonts for the whole process and wants 'static bytes: leak one font once.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    for style in [FontStyle::Normal, FontStyle::Bold] {
        plotters::style::register_font("sans-serif", style, bytes).map_err(|_| Error::Data {
            path: chosen.clone(),
            message: "not a TrueType font plotters can read".into(),
        })?;
    }
    let _ = FONT.set(chosen.clone());
    Ok(Some(chosen))
}

/// SVG backend that measures text from its size alone (see the module documentation).
pub struct Svg<'a>(SVGBackend<'a>);

impl<'a> Svg<'a> {
    pub fn with_string(buf: &'a mut String, size: (u32, u32)) -> Self {
        Svg(SVGBackend::with_string(buf, size))
    }
}

impl DrawingBackend for Svg<'_> {
    type ErrorType = <SVGBackend<'static> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }
    fn ensure_prepared(&mut self) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.ensure_prepared()
    }
    fn present(&mut self) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.present()
    }
    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_pixel(point, color)
    }
    fn draw_line<S: plotters_backend::BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_line(from, to, style)
    }
    fn draw_rect<S: plotters_backend::BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_rect(upper_left, bottom_right, style, fill)
    }
    fn draw_path<S: plotters_backend::BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_path(path, style)
    }
    fn draw_circle<S: plotters_backend::BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: plotters_backend::BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.fill_polygon(vert, style)
    }
    fn draw_text<T: plotters_backend::BackendTextStyle>(
        &mut self,
        text: &str,
        style: &T,
        pos: BackendCoord,
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_text(text, style, pos)
    }
    fn estimate_text_size<T: plotters_backend::BackendTextStyle>(
        &self,
        text: &str,
        style: &T,
    ) -> std::result::Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        // Average sans-serif advance is about 0.55 em; plotters' em is size / 1.24.
        let em = style.size() / 1.24;
        let w = 0.55 * em * text.chars().count() as f64;
        Ok((w.ceil() as u32, em.ceil() as u32))
    }
    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.blit_bitmap(pos, size, src)
    }
}

type DrawResult<DB> =
    std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A figure that can be drawn on any backend.
pub trait Figure {
    /// File stem of the plot (`roc` → `roc.svg`, `roc.png`).
    fn name(&self) -> String;
    fn size(&self) -> (u32, u32) {
        (720, 480)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

/// A written plot: the SVG text (for inlining) and the files.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub name: String,
    pub svg: String,
    pub svg_path: PathBuf,
    pub png_path: Option<PathBuf>,
}

fn plot_err(name: &str, e: impl std::fmt::Display) -> Error {
    Error::Plot {
        name: name.to_owned(),
        message: e.to_string(),
    }
}

/// Draw `fig` as `<dir>/<name>.svg`, and `<dir>/<name>.png` when `png` (a font is registered).
pub fn render<F: Figure>(fig: &F, dir: &Path, png: bool) -> Result<Rendered> {
    let name = fig.name();
    let mut svg = String::new();
    {
        let root = Svg::with_string(&mut svg, fig.size()).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_err(&name, e))?;
        fig.draw(&root).map_err(|e| plot_err(&name, e))?;
        root.present().map_err(|e| plot_err(&name, e))?;
    }
    let svg_path = dir.join(format!("{name}.svg"));
    std::fs::write(&svg_path, &svg).map_err(crate::error::io(&svg_path))?;
    let png_path = if png {
        let p = dir.join(format!("{name}.png"));
        {
            let root = BitMapBackend::new(&p, fig.size()).into_drawing_area();
            root.fill(&WHITE).map_err(|e| plot_err(&name, e))?;
            fig.draw(&root).map_err(|e| plot_err(&name, e))?;
            root.present().map_err(|e| plot_err(&name, e))?;
        }
        Some(p)
    } else {
        None
    };
    Ok(Rendered {
        name,
        svg,
        svg_path,
        png_path,
    })
}

fn font(size: u32) -> TextStyle<'static> {
    TextStyle::from(("sans-serif", size).into_font())
}

/// Legend in the top-left or bottom-right corner of `root`, one line per entry.
fn legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    entries: &[(String, RGBColor)],
    at: (i32, i32),
) -> DrawResult<DB> {
    for (k, (label, c)) in entries.iter().enumerate() {
        let y = at.1 + 18 * k as i32;
        root.draw(&PathElement::new(
            vec![(at.0, y), (at.0 + 22, y)],
            c.stroke_width(3),
        ))?;
        root.draw_text(
            label,
            &font(14).pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Left,
                plotters::style::text_anchor::VPos::Center,
            )),
            (at.0 + 28, y),
        )?;
    }
    Ok(())
}

/// ROC curves on a log-scaled false-positive axis, one per model.
pub struct RocFigure {
    pub curves: Vec<(String, Curve)>,
    /// Leftmost FPR shown (one false positive among the negatives, at least 1e-5).
    pub min_fpr: f64,
}

impl Figure for RocFigure {
    fn name(&self) -> String {
        "roc".into()
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let lo = self.min_fpr.clamp(1e-5, 0.1);
        let mut chart = ChartBuilder::on(root)
            .caption("ROC curve (log false-positive rate)", font(18))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(52)
            .build_cartesian_2d((lo..1.0f64).log_scale(), 0.0..1.0f64)?;
        chart
            .configure_mesh()
            .x_desc("false-positive rate")
            .y_desc("true-positive rate (recall)")
            .x_label_formatter(&|v| format!("{v:.0e}"))
            .label_style(font(13))
            .axis_desc_style(font(14))
            .draw()?;
        for fpr in [0.001, 0.01, 0.05] {
            if fpr > lo {
                chart.draw_series(LineSeries::new(
                    vec![(fpr, 0.0), (fpr, 1.0)],
                    GREY.mix(0.6).stroke_width(1),
                ))?;
            }
        }
        for (i, (_, c)) in self.curves.iter().enumerate() {
            let pts: Vec<(f64, f64)> = c.iter().map(|&(x, y)| (x.max(lo), y)).collect();
            chart.draw_series(LineSeries::new(pts, color(i).stroke_width(2)))?;
        }
        let entries: Vec<_> = self
            .curves
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.clone(), color(i)))
            .collect();
        legend(root, &entries, (80, 60))
    }
}

/// Precision-recall curves, one per model.
pub struct PrFigure {
    pub curves: Vec<(String, Curve)>,
}

impl Figure for PrFigure {
    fn name(&self) -> String {
        "pr".into()
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let mut chart = ChartBuilder::on(root)
            .caption("Precision-recall curve", font(18))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(52)
            .build_cartesian_2d(0.0..1.0f64, 0.0..1.02f64)?;
        chart
            .configure_mesh()
            .x_desc("recall")
            .y_desc("precision")
            .label_style(font(13))
            .axis_desc_style(font(14))
            .draw()?;
        for (i, (_, c)) in self.curves.iter().enumerate() {
            chart.draw_series(LineSeries::new(c.clone(), color(i).stroke_width(2)))?;
        }
        let entries: Vec<_> = self
            .curves
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.clone(), color(i)))
            .collect();
        legend(root, &entries, (80, 360))
    }
}

/// Per calibration bin: (mean predicted probability, observed malicious rate, rows).
pub type CalibrationBins = Vec<(f64, f64, u64)>;

/// Reliability diagram: observed malicious rate against mean predicted probability.
pub struct CalibrationFigure {
    pub curves: Vec<(String, CalibrationBins)>,
}

impl Figure for CalibrationFigure {
    fn name(&self) -> String {
        "calibration".into()
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let mut chart = ChartBuilder::on(root)
            .caption("Calibration (10 probability bins)", font(18))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(52)
            .build_cartesian_2d(0.0..1.0f64, 0.0..1.0f64)?;
        chart
            .configure_mesh()
            .x_desc("mean predicted probability")
            .y_desc("observed malicious rate")
            .label_style(font(13))
            .axis_desc_style(font(14))
            .draw()?;
        chart.draw_series(LineSeries::new(
            vec![(0.0, 0.0), (1.0, 1.0)],
            GREY.stroke_width(1),
        ))?;
        for (i, (_, c)) in self.curves.iter().enumerate() {
            let pts: Vec<(f64, f64)> = c.iter().map(|&(p, o, _)| (p, o)).collect();
            chart.draw_series(LineSeries::new(pts.clone(), color(i).stroke_width(2)))?;
            chart.draw_series(
                pts.into_iter()
                    .map(|p| Circle::new(p, 3, color(i).filled())),
            )?;
        }
        let entries: Vec<_> = self
            .curves
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.clone(), color(i)))
            .collect();
        legend(root, &entries, (80, 60))
    }
}

/// Score histograms of benign and malicious events (share of each class per bin).
pub struct HistogramFigure {
    pub model: String,
    /// File-safe model name.
    pub stem: String,
    pub benign: Vec<f32>,
    pub malicious: Vec<f32>,
    pub threshold: f32,
}

const HIST_BINS: usize = 25;

fn shares(v: &[f32]) -> Vec<f64> {
    let mut h = vec![0.0f64; HIST_BINS];
    for &p in v {
        let b = ((f64::from(p).clamp(0.0, 1.0) * HIST_BINS as f64) as usize).min(HIST_BINS - 1);
        h[b] += 1.0;
    }
    let n = v.len().max(1) as f64;
    h.iter_mut().for_each(|x| *x /= n);
    h
}

impl Figure for HistogramFigure {
    fn name(&self) -> String {
        format!("scores_{}", self.stem)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let (b, m) = (shares(&self.benign), shares(&self.malicious));
        // Square-root axis: the benign mass near 0 would otherwise flatten everything else.
        let top = b.iter().chain(&m).fold(0.0f64, |a, &x| a.max(x)).max(1e-3);
        let mut chart = ChartBuilder::on(root)
            .caption(format!("Scores by class: {}", self.model), font(18))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..1.0f64, 0.0..top.sqrt() * 1.05)?;
        chart
            .configure_mesh()
            .x_desc("predicted probability of malicious")
            .y_desc("share of the class (sqrt scale)")
            .y_label_formatter(&|v| format!("{:.3}", v * v))
            .label_style(font(13))
            .axis_desc_style(font(14))
            .draw()?;
        let w = 1.0 / HIST_BINS as f64;
        for (vals, c, off) in [(&b, BENIGN, 0.0), (&m, MALICIOUS, 0.5)] {
            chart.draw_series(vals.iter().enumerate().filter(|(_, v)| **v > 0.0).map(
                |(k, &v)| {
                    let x0 = k as f64 * w + off * w;
                    Rectangle::new([(x0, 0.0), (x0 + w / 2.0, v.sqrt())], c.mix(0.8).filled())
                },
            ))?;
        }
        let t = f64::from(self.threshold);
        chart.draw_series(LineSeries::new(
            vec![(t, 0.0), (t, top.sqrt())],
            BLACK.stroke_width(1),
        ))?;
        legend(
            root,
            &[
                (format!("benign ({} events)", self.benign.len()), BENIGN),
                (
                    format!("malicious ({} events)", self.malicious.len()),
                    MALICIOUS,
                ),
                (format!("threshold {:.3}", self.threshold), BLACK),
            ],
            (300, 60),
        )
    }
}

/// Recall at the model's threshold per ATT&CK technique, one bar per model.
pub struct TechniqueFigure {
    pub techniques: Vec<String>,
    /// Per model: recall per technique (same order; `None` = no data).
    pub models: Vec<(String, Vec<Option<f64>>)>,
}

impl Figure for TechniqueFigure {
    fn name(&self) -> String {
        "technique_recall".into()
    }
    fn size(&self) -> (u32, u32) {
        let rows = self.techniques.len().max(1) as u32;
        (
            720,
            (120 + rows * (8 + 10 * self.models.len().max(1) as u32)).max(240),
        )
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let n = self.techniques.len().max(1);
        let labels = self.techniques.clone();
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Recall at the model threshold, per ATT&CK technique",
                font(18),
            )
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(110)
            .build_cartesian_2d(0.0..1.0f64, 0.0..n as f64)?;
        chart
            .configure_mesh()
            .x_desc("recall")
            .y_labels(n * 2 + 1)
            .y_label_formatter(&|v| {
                let k = v - 0.5;
                if (k - k.round()).abs() < 1e-6 && k >= 0.0 {
                    labels
                        .get(n.saturating_sub(1 + k.round() as usize))
                        .cloned()
                        .unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .disable_y_mesh()
            .label_style(font(12))
            .axis_desc_style(font(14))
            .draw()?;
        let m = self.models.len().max(1) as f64;
        let h = 0.8 / m;
        for (j, (_, recalls)) in self.models.iter().enumerate() {
            chart.draw_series(recalls.iter().enumerate().filter_map(|(k, r)| {
                let r = (*r)?;
                // Top row is the first technique.
                let y0 = (n - 1 - k) as f64 + 0.1 + j as f64 * h;
                Some(Rectangle::new(
                    [(0.0, y0), (r.max(0.004), y0 + h * 0.9)],
                    color(j).filled(),
                ))
            }))?;
        }
        if self.models.len() > 1 {
            let entries: Vec<_> = self
                .models
                .iter()
                .enumerate()
                .map(|(i, (n, _))| (n.clone(), color(i)))
                .collect();
            legend(root, &entries, (560, 50))?;
        }
        Ok(())
    }
}

/// Alerts over time, one row per host; attack scenario starts as red ticks.
pub struct TimelineFigure {
    pub model: String,
    pub stem: String,
    pub hosts: Vec<String>,
    /// (host index, ms since `start_ms`, alert holds a malicious event)
    pub alerts: Vec<(usize, i64, bool)>,
    /// (host index, ms since `start_ms`) of each scenario's first event.
    pub scenario_starts: Vec<(usize, i64)>,
    pub start_ms: i64,
    pub span_ms: i64,
}

impl Figure for TimelineFigure {
    fn name(&self) -> String {
        format!("timeline_{}", self.stem)
    }
    fn size(&self) -> (u32, u32) {
        (820, (130 + 16 * self.hosts.len().max(1) as u32).max(260))
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let n = self.hosts.len().max(1);
        let hours = (self.span_ms as f64 / 3.6e6).max(1.0);
        let labels = self.hosts.clone();
        let start = lotl_scorer::alert::iso(self.start_ms);
        let mut chart = ChartBuilder::on(root)
            .caption(format!("Alerts per host: {}", self.model), font(18))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(150)
            .build_cartesian_2d(0.0..hours, -0.5..(n as f64 - 0.5))?;
        chart
            .configure_mesh()
            .x_desc(format!("hours since {start}"))
            .y_labels(n)
            .y_label_formatter(&|v| {
                if (v - v.round()).abs() < 1e-6 && *v >= 0.0 {
                    labels.get(v.round() as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .label_style(font(11))
            .axis_desc_style(font(14))
            .draw()?;
        chart.draw_series(self.scenario_starts.iter().map(|&(h, t)| {
            let x = t as f64 / 3.6e6;
            PathElement::new(
                vec![(x, h as f64 - 0.45), (x, h as f64 + 0.45)],
                MALICIOUS.stroke_width(2),
            )
        }))?;
        chart.draw_series(self.alerts.iter().map(|&(h, t, hit)| {
            let c = if hit { MALICIOUS } else { BENIGN };
            Circle::new((t as f64 / 3.6e6, h as f64), 4, c.filled())
        }))?;
        legend(
            root,
            &[
                ("alert with malicious events".to_owned(), MALICIOUS),
                ("alert on benign events only".to_owned(), BENIGN),
                ("| scenario start".to_owned(), MALICIOUS),
            ],
            (560, 40),
        )
    }
}
