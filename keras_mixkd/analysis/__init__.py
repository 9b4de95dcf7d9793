"""Analyses of trained networks, as in the MIX-KD study.

- `smoothness`: logit std, predictive entropy, confidence (mixup teachers
  are smoother: lower logit std, higher entropy, lower confidence).
- `calibration`: expected calibration error, NLL, Brier score, reliability
  diagrams, and `calibration_summary` comparing like with like.
- `trained_outputs`: the probabilities a network was trained to produce
  (``softmax(logits / std(logits))`` for a MIXSTD student).
- `temperature_scaling`: one temperature fitted on held-out data.
- `fidelity`: how closely a student imitates its teacher (top-1 agreement,
  KL divergence).
- `robustness`: FGSM and PGD in pixel space for models on normalised images,
  accuracy-versus-budget curves.
- `features`: penultimate features and their t-SNE embedding.
- `plots`: the figures (PNG, matplotlib imported only when drawing).

Functions work on numpy arrays (logits, probabilities, features) or on a
model and a dataset: image arrays, ``(images, labels)`` arrays, or a
`tf.data.Dataset` of ``(images, labels)`` batches.

Example:

```python
from keras_mixkd import analysis

logits, labels = analysis.collect_logits(teacher, test_ds, return_labels=True)
analysis.smoothness_summary(logits)
analysis.expected_calibration_error(labels, analysis.softmax(logits))
# A MIXSTD student, on what it was trained to output, and after a
# temperature fitted on held-out logits:
analysis.calibration_summary(logits, labels, loss="mixstd",
                             heldout=(val_logits, val_labels))
```
"""

from keras_mixkd.analysis import calibration
from keras_mixkd.analysis import features
from keras_mixkd.analysis import plots
from keras_mixkd.analysis import robustness
from keras_mixkd.analysis import smoothness
from keras_mixkd.analysis import temperature_scaling
from keras_mixkd.analysis import trained_outputs
from keras_mixkd.analysis._utils import collect_logits
from keras_mixkd.analysis._utils import softmax
from keras_mixkd.analysis.calibration import brier_score
from keras_mixkd.analysis.calibration import calibration_bins
from keras_mixkd.analysis.calibration import calibration_summary
from keras_mixkd.analysis.calibration import expected_calibration_error
from keras_mixkd.analysis.calibration import negative_log_likelihood
from keras_mixkd.analysis.calibration import reliability_diagram
from keras_mixkd.analysis.features import feature_extractor
from keras_mixkd.analysis.features import penultimate_features
from keras_mixkd.analysis.features import tsne_embedding
from keras_mixkd.analysis.fidelity import model_fidelity
from keras_mixkd.analysis.fidelity import mean_kl
from keras_mixkd.analysis.fidelity import top1_agreement
from keras_mixkd.analysis.plots import plot_heatmap
from keras_mixkd.analysis.plots import plot_method_comparison
from keras_mixkd.analysis.plots import plot_reliability_diagram
from keras_mixkd.analysis.plots import plot_robustness_curves
from keras_mixkd.analysis.plots import plot_smoothness_comparison
from keras_mixkd.analysis.plots import plot_training_curves
from keras_mixkd.analysis.plots import plot_tsne
from keras_mixkd.analysis.robustness import accuracy_under_attack
from keras_mixkd.analysis.robustness import fgsm
from keras_mixkd.analysis.robustness import pgd
from keras_mixkd.analysis.robustness import robustness_curve
from keras_mixkd.analysis.smoothness import confidence
from keras_mixkd.analysis.smoothness import logit_std
from keras_mixkd.analysis.smoothness import model_smoothness
from keras_mixkd.analysis.smoothness import predictive_entropy
from keras_mixkd.analysis.smoothness import smoothness_summary
from keras_mixkd.analysis.temperature_scaling import apply_temperature
from keras_mixkd.analysis.temperature_scaling import fit_temperature
from keras_mixkd.analysis.trained_outputs import trained_logits
from keras_mixkd.analysis.trained_outputs import trained_probabilities
from keras_mixkd.analysis.trained_outputs import training_loss
