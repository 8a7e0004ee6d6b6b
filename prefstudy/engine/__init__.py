"""The training engine: it never opens a study, and takes paths, arrays and objects only.

- :mod:`.train` — the fit loop (Model 1 / Model 2), prediction, frozen features;
- :mod:`.schedule` — the learning rate and the length of a fit, step by step (torch-free);
- :mod:`.folding` — BatchNorm folded into the convolutions for validation and prediction;
- :mod:`.precision`, :mod:`.device`, :mod:`.distributed` — how and where it computes (fp32 or bf16,
  CPU or CUDA, one process or several under torchrun);
- :mod:`.inputs` — how a dataset's images meet a model's input;
- :mod:`.surgery` — transfer between domains: a source model's features under a new head;
- :mod:`.saved_model` — a trained model written to and read from ``model.pt`` (a path or bytes);
- :mod:`.build` — a run's model: from scratch, or from a transfer source.

Nothing is imported here, so that naming a submodule never brings in more than it needs.
"""
