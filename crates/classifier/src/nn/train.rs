//! Training with burn: AdamW on mini-batches of weighted binary cross-entropy, early
//! stopping on the validation log-loss.
//!
//! Determinism: weights are initialised and batches shuffled by this crate's seeded
//! SplitMix64, never by burn's global generator, and the `flex` backend is used
//! single-threaded, so the same data and seed give bit-identical weights.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::activation::{log_sigmoid, relu};
use burn::tensor::{Device, Tensor, TensorData};

use super::{ngram_family, Dense, EmbeddingBag, NnModel, ValidNnParams};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::rng::SplitMix64;

/// The network as burn modules; the layout (which columns feed which bag) lives in
/// [`Layout`] so the module holds parameters only.
#[derive(Module, Debug)]
struct Net {
    bags: Vec<Linear>,
    layers: Vec<Linear>,
}

/// Column layout of the head input, fixed before training.
struct Layout {
    /// (family name, feature indices) per embedding bag.
    bags: Vec<(String, Vec<u32>)>,
    numeric: Vec<u32>,
    /// Feature indices in the order the training tensor holds them: bag columns, then numeric.
    order: Vec<u32>,
}

impl Layout {
    fn new(names: &[String]) -> Self {
        let mut bags: Vec<(String, Vec<u32>)> = Vec::new();
        let mut numeric = Vec::new();
        for (i, n) in names.iter().enumerate() {
            match ngram_family(n) {
                Some(f) => match bags.iter_mut().find(|(name, _)| name == f) {
                    Some((_, cols)) => cols.push(i as u32),
                    None => bags.push((f.to_owned(), vec![i as u32])),
                },
                None => numeric.push(i as u32),
            }
        }
        let order = bags
            .iter()
            .flat_map(|(_, c)| c.iter().copied())
            .chain(numeric.iter().copied())
            .collect();
        Layout {
            bags,
            numeric,
            order,
        }
    }
}

impl Net {
    fn forward(&self, x: Tensor<2>, layout: &Layout) -> Tensor<2> {
        let mut parts = Vec::with_capacity(self.bags.len() + 1);
        let mut off = 0usize;
        for (bag, (_, cols)) in self.bags.iter().zip(&layout.bags) {
            parts.push(bag.forward(x.clone().narrow(1, off, cols.len())));
            off += cols.len();
        }
        if !layout.numeric.is_empty() {
            parts.push(x.narrow(1, off, layout.numeric.len()));
        }
        let mut h = Tensor::cat(parts, 1);
        let n = self.layers.len();
        for (i, l) in self.layers.iter().enumerate() {
            h = l.forward(h);
            if i + 1 < n {
                h = relu(h);
            }
        }
        h
    }
}

fn uniform(rng: &mut SplitMix64, n: usize, bound: f64) -> Vec<f32> {
    (0..n)
        .map(|_| ((rng.next_f64() * 2.0 - 1.0) * bound) as f32)
        .collect()
}

fn linear(
    weight: Vec<f32>,
    n_in: usize,
    n_out: usize,
    bias: Option<Vec<f32>>,
    d: &Device,
) -> Linear {
    Linear {
        weight: Param::from_data(TensorData::new(weight, [n_in, n_out]), d),
        bias: bias.map(|b| Param::from_data(TensorData::new(b, [n_out]), d)),
    }
}

fn values(p: &Param<Tensor<2>>) -> Result<Vec<f32>> {
    p.val()
        .into_data()
        .try_into_vec::<f32>()
        .map_err(|e| Error::CorruptModel(format!("reading weights from burn: {e:?}")))
}

fn values1(p: &Param<Tensor<1>>) -> Result<Vec<f32>> {
    p.val()
        .into_data()
        .try_into_vec::<f32>()
        .map_err(|e| Error::CorruptModel(format!("reading weights from burn: {e:?}")))
}

/// Training mean and inverse standard deviation per feature (NaN ignored); n-gram columns
/// keep (0, 1) so their term frequencies stay sparse.
fn standardisation(train: &Dataset, layout: &Layout) -> (Vec<f32>, Vec<f32>) {
    let m = train.features();
    let mut mean = vec![0.0f32; m.n_cols()];
    let mut inv = vec![1.0f32; m.n_cols()];
    for &c in &layout.numeric {
        let c = c as usize;
        let (mut n, mut s, mut s2) = (0.0f64, 0.0f64, 0.0f64);
        for &v in m.column(c) {
            if !v.is_nan() {
                let v = f64::from(v);
                n += 1.0;
                s += v;
                s2 += v * v;
            }
        }
        if n > 0.0 {
            let mu = s / n;
            let var = (s2 / n - mu * mu).max(0.0);
            mean[c] = mu as f32;
            let sd = var.sqrt();
            if sd.is_finite() && sd > 1e-6 && (1.0 / sd).is_finite() {
                inv[c] = (1.0 / sd) as f32;
            }
        }
    }
    (mean, inv)
}

/// Weighted mean log-loss of the native model on a labelled set.
fn log_loss(model: &NnModel, data: &Dataset) -> Result<f64> {
    let raw = model.predict_raw(data.features())?;
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (r, (&l, &y)) in raw.iter().zip(data.labels()).enumerate() {
        let w = data.weights().map_or(1.0, |w| f64::from(w[r]));
        let l = f64::from(l);
        // -log σ(l) = softplus(-l), computed stably.
        let sp = |x: f64| x.max(0.0) + (-x.abs()).exp().ln_1p();
        num += w * if y == 1 { sp(-l) } else { sp(l) };
        den += w;
    }
    Ok(if den > 0.0 { num / den } else { 0.0 })
}

pub(super) fn fit(
    params: &ValidNnParams,
    train: &Dataset,
    valid: Option<&Dataset>,
) -> Result<NnModel> {
    let p = params.params();
    let names = train.features().names().to_vec();
    let layout = Layout::new(&names);
    let (mean, inv_std) = standardisation(train, &layout);
    let n_f = layout.order.len();
    let n = train.n_rows();

    // Standardised training rows, row-major, columns in layout order.
    let m = train.features();
    let mut z = vec![0.0f32; n * n_f];
    for (k, &c) in layout.order.iter().enumerate() {
        let c = c as usize;
        for (r, &v) in m.column(c).iter().enumerate() {
            let v = if v.is_nan() { mean[c] } else { v };
            z[r * n_f + k] = (v - mean[c]) * inv_std[c];
        }
    }
    let spw = p.scale_pos_weight as f32;
    let weight: Vec<f32> = train
        .labels()
        .iter()
        .enumerate()
        .map(|(r, &y)| {
            let w = train.weights().map_or(1.0, |w| w[r]);
            if y == 1 {
                w * spw
            } else {
                w
            }
        })
        .collect();

    let device = Device::flex().autodiff();
    let mut rng = SplitMix64::new(p.seed);
    let dim = p.embedding_dim as usize;
    let bags: Vec<Linear> = layout
        .bags
        .iter()
        .map(|(_, cols)| {
            let w = uniform(&mut rng, cols.len() * dim, 1.0);
            linear(w, cols.len(), dim, None, &device)
        })
        .collect();
    let mut width = layout.bags.len() * dim + layout.numeric.len();
    let mut layers = Vec::new();
    for &h in p.hidden.iter().chain(std::iter::once(&1)) {
        let h = h as usize;
        // Kaiming-uniform bound sqrt(1 / fan_in), as burn's Linear default.
        let bound = (1.0 / width as f64).sqrt();
        let w = uniform(&mut rng, width * h, bound);
        let b = uniform(&mut rng, h, bound);
        layers.push(linear(w, width, h, Some(b), &device));
        width = h;
    }
    let mut net = Net { bags, layers };
    let mut optim = AdamWConfig::new()
        .with_weight_decay(p.weight_decay as f32)
        .init();

    let snapshot = |net: &Net, importance: Vec<f64>, epochs: u32| -> Result<NnModel> {
        let mut out_bags = Vec::with_capacity(net.bags.len());
        for (b, (name, cols)) in net.bags.iter().zip(&layout.bags) {
            out_bags.push(EmbeddingBag {
                name: name.clone(),
                columns: cols.clone(),
                dim: dim as u32,
                weight: values(&b.weight)?,
            });
        }
        let mut out_layers = Vec::with_capacity(net.layers.len());
        for l in &net.layers {
            let [n_in, n_out] = l.weight.val().dims();
            out_layers.push(Dense {
                n_in: n_in as u32,
                n_out: n_out as u32,
                weight: values(&l.weight)?,
                bias: match &l.bias {
                    Some(b) => values1(b)?,
                    None => vec![0.0; n_out],
                },
            });
        }
        let model = NnModel {
            format_version: NnModel::VERSION,
            feature_names: names.clone(),
            mean: mean.clone(),
            inv_std: inv_std.clone(),
            bags: out_bags,
            numeric: layout.numeric.clone(),
            layers: out_layers,
            params: p.clone(),
            importance,
            valid_loss: Vec::new(),
            train_loss: Vec::new(),
            epochs,
        };
        Ok(model)
    };

    let bs = (p.batch_size as usize).min(n);
    let mut order: Vec<usize> = (0..n).collect();
    let mut xb = vec![0.0f32; bs * n_f];
    let mut valid_loss = Vec::new();
    let mut train_loss = Vec::new();
    let mut best: Option<(f64, NnModel)> = None;
    let mut since_best = 0u32;
    let mut epochs = 0u32;
    for epoch in 0..p.max_epochs {
        epochs = epoch + 1;
        for i in (1..n).rev() {
            let j = rng.below(i + 1);
            order.swap(i, j);
        }
        for batch in order.chunks(bs) {
            let b = batch.len();
            let mut wy = Vec::with_capacity(b);
            let mut wn = Vec::with_capacity(b);
            let mut wsum = 0.0f64;
            for (k, &r) in batch.iter().enumerate() {
                xb[k * n_f..(k + 1) * n_f].copy_from_slice(&z[r * n_f..(r + 1) * n_f]);
                let w = weight[r];
                wsum += f64::from(w);
                if train.labels()[r] == 1 {
                    wy.push(w);
                    wn.push(0.0);
                } else {
                    wy.push(0.0);
                    wn.push(w);
                }
            }
            if wsum <= 0.0 {
                continue;
            }
            let x =
                Tensor::<2>::from_data(TensorData::new(xb[..b * n_f].to_vec(), [b, n_f]), &device);
            let wy = Tensor::<1>::from_data(TensorData::new(wy, [b]), &device);
            let wn = Tensor::<1>::from_data(TensorData::new(wn, [b]), &device);
            let logits: Tensor<1> = net.forward(x, &layout).squeeze_dim::<1>(1);
            let ll = wy.mul(log_sigmoid(logits.clone())) + wn.mul(log_sigmoid(logits.neg()));
            let loss = ll.sum().neg().div_scalar(wsum);
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(p.learning_rate, net, grads);
        }
        let model = snapshot(&net, Vec::new(), epochs)?;
        train_loss.push(log_loss(&model, train)?);
        let Some(v) = valid else { continue };
        let loss = log_loss(&model, v)?;
        if !loss.is_finite() {
            return Err(Error::Untrainable(format!(
                "validation log-loss became {loss} at epoch {epochs}: lower learning_rate"
            )));
        }
        valid_loss.push(loss);
        if best.as_ref().is_none_or(|(b, _)| loss < *b) {
            best = Some((loss, model));
            since_best = 0;
        } else {
            since_best += 1;
            if p.early_stopping_rounds.is_some_and(|k| since_best >= k) {
                break;
            }
        }
    }
    let mut model = match best {
        Some((_, m)) => m,
        None => snapshot(&net, Vec::new(), epochs)?,
    };
    model.epochs = epochs;
    model.valid_loss = valid_loss;
    model.train_loss = train_loss;
    // Importance on held-out rows when there are some: gradients on training rows mostly
    // describe what the network memorised.
    let src = valid.unwrap_or(train);
    let k = (p.importance_rows as usize).min(src.n_rows());
    let rows: Vec<usize> = (0..k).map(|i| i * src.n_rows() / k.max(1)).collect();
    model.importance = model.mean_abs_contribution(src.features(), &rows);
    model.validate()?;
    Ok(model)
}
