"""The reference's seven neural models, ported to PyTorch (optional extra ``neural``).

``algorithms`` holds the registry entries and memory estimates (importable without
torch); ``recommender`` the shared recommender class; ``training`` the one training
loop with the reference's early stopping; one module per model family holds its
network, loss and sampling (``mult_vae``, ``delf``, ``neurec``, ``spectral_cf``,
``mf_bpr``). ``torch_runtime`` finds torch and the device.
"""
