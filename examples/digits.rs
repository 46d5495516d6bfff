//! An MLP classifier for the 8×8 handwritten digits that scikit-learn ships
//! (1,797 images from the UCI repository, kept in `examples/data/`), trained
//! with Adam on gradients that `#[differentiable]` generates. A progress bar
//! shows the training; the loss curves and the test accuracy are drawn into a
//! PNG.
//!
//! Run: `cargo run --release --example digits` (writes `docs/digits_training.png`)
//!
//! Options: `--epochs N` (default 40), `--out PATH` (the PNG), `--short`
//! (3 epochs, the PNG in the temporary directory: what CI runs).

#[path = "common/digits.rs"]
mod digits;

use std::path::PathBuf;
use std::time::Instant;

use autodiff::optim::{Adam, Optimizer};
use digits::{Digits, Params};
use indicatif::{ProgressBar, ProgressStyle};
use plotters::prelude::*;
use plotters::style::FontStyle;

const HIDDEN: usize = 64;
const BATCH: usize = 32;
const LEARNING_RATE: f64 = 2e-3;

/// What was measured after each epoch.
struct Epoch {
    train_loss: f64,
    test_loss: f64,
    test_accuracy: f64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (epochs, out) = options();
    let all = digits::load();
    let (train, test) = digits::split(&all);
    println!(
        "digits: {} images, {} for training, {} for testing; MLP 64-{HIDDEN}-10 (tanh), Adam lr {LEARNING_RATE}, batches of {BATCH}",
        all.len(),
        train.len(),
        test.len()
    );

    let mut params = digits::init(HIDDEN, 1);
    let mut opt = Adam::new(LEARNING_RATE);
    let batches = train.len().div_ceil(BATCH);
    let bar = ProgressBar::new((epochs * batches) as u64);
    bar.set_style(ProgressStyle::with_template(
        "{elapsed:>4} [{bar:40}] {pos}/{len} steps  {msg}",
    )?);
    let start = Instant::now();
    let mut history = vec![evaluate(&params, &train, &test)]; // epoch 0: before training
    for epoch in 0..epochs {
        let order = digits::permutation(train.len(), 100 + epoch as u64);
        for rows in order.chunks(BATCH) {
            let batch = train.select(rows);
            let (loss, grad) = digits::loss_and_grad(&params, &batch);
            opt.step(&mut params, &grad);
            bar.set_message(format!(
                "epoch {}/{epochs}  batch loss {loss:.4}",
                epoch + 1
            ));
            bar.inc(1);
        }
        history.push(evaluate(&params, &train, &test));
    }
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();

    println!("epoch  train loss  test loss  test accuracy");
    for (i, e) in history.iter().enumerate() {
        if i < 3 || i % 10 == 0 || i == epochs {
            println!(
                "{:5}  {:10.4}  {:9.4}  {:12.2}%",
                i,
                e.train_loss,
                e.test_loss,
                100.0 * e.test_accuracy
            );
        }
    }
    let last = history.last().expect("at least one epoch");
    println!(
        "test accuracy after {epochs} epochs: {:.2}% ({} of {} test images), training took {seconds:.1} s",
        100.0 * last.test_accuracy,
        (last.test_accuracy * test.len() as f64).round(),
        test.len()
    );
    plot(&history, &out)?;
    println!("loss curves and accuracy: {}", out.display());
    Ok(())
}

/// `--epochs N`, `--out PATH`, `--short`.
fn options() -> (usize, PathBuf) {
    let mut epochs = 40;
    let mut out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/digits_training.png");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--short" => {
                epochs = 3;
                out = std::env::temp_dir().join("digits_training_short.png");
            }
            "--epochs" => {
                epochs = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--epochs takes a number");
            }
            "--out" => out = PathBuf::from(args.next().expect("--out takes a path")),
            other => panic!("unknown option {other:?} (options: --epochs N, --out PATH, --short)"),
        }
    }
    (epochs, out)
}

fn evaluate(params: &Params, train: &Digits, test: &Digits) -> Epoch {
    Epoch {
        train_loss: digits::mean_loss(params, train),
        test_loss: digits::mean_loss(params, test),
        test_accuracy: digits::accuracy(params, test),
    }
}

/// Two panels: the mean cross-entropy on the training and test images after
/// each epoch (epoch 0: before training), and the test accuracy.
fn plot(history: &[Epoch], out: &PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    // Text through ab_glyph, with a font kept in the repository: no system
    // font library needed.
    plotters::style::register_font(
        "sans-serif",
        FontStyle::Normal,
        include_bytes!("data/fonts/DejaVuSans-subset.ttf"),
    )
    .map_err(|_| "the font in examples/data/fonts is not a valid TrueType font")?;

    // Drawn into an RGB buffer, which the png crate encodes.
    let (width, height) = (1100, 450);
    let mut pixels = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let last = history.last().expect("at least one epoch");
        let title = format!(
            "MLP on the 8x8 digits: {:.1}% test accuracy after {} epochs",
            100.0 * last.test_accuracy,
            history.len() - 1
        );
        let root = root.titled(&title, ("sans-serif", 24))?;
        let (left, right) = root.split_horizontally(550);
        let epochs = (history.len() - 1) as f64;

        let max_loss = history
            .iter()
            .map(|e| e.train_loss.max(e.test_loss))
            .fold(0.0, f64::max);
        let mut chart = ChartBuilder::on(&left)
            .margin(15)
            .caption("cross-entropy loss", ("sans-serif", 18))
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(0.0..epochs.max(1.0), 0.0..max_loss * 1.05)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .label_style(("sans-serif", 14))
            .draw()?;
        let series = |f: fn(&Epoch) -> f64| {
            history
                .iter()
                .enumerate()
                .map(move |(i, e)| (i as f64, f(e)))
                .collect::<Vec<_>>()
        };
        chart
            .draw_series(LineSeries::new(
                series(|e| e.train_loss),
                BLUE.stroke_width(2),
            ))?
            .label("training images")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
        chart
            .draw_series(LineSeries::new(
                series(|e| e.test_loss),
                RED.stroke_width(2),
            ))?
            .label("test images")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(("sans-serif", 14))
            .border_style(BLACK)
            .background_style(WHITE.mix(0.8))
            .draw()?;

        // From epoch 1: before training the accuracy is chance (about 10%).
        let low = history[1..]
            .iter()
            .map(|e| 100.0 * e.test_accuracy)
            .fold(100.0, f64::min);
        let mut chart = ChartBuilder::on(&right)
            .margin(15)
            .caption("test accuracy (%)", ("sans-serif", 18))
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(1.0..epochs.max(2.0), (low - 1.0).floor().max(0.0)..100.0)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .label_style(("sans-serif", 14))
            .draw()?;
        chart.draw_series(LineSeries::new(
            series(|e| 100.0 * e.test_accuracy).into_iter().skip(1),
            RGBColor(0, 140, 60).stroke_width(2),
        ))?;
        root.present()?;
    } // the drawing areas borrow `pixels` until here

    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::io::BufWriter::new(std::fs::File::create(out)?);
    let mut encoder = png::Encoder::new(file, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    encoder.write_header()?.write_image_data(&pixels)?;
    Ok(())
}
