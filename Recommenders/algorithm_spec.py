"""``AlgorithmSpec``: how a search runs one named algorithm."""

from dataclasses import dataclass, field

from Recommenders.hyperparameter_space import HyperparameterSpace


@dataclass(frozen=True)
class AlgorithmSpec:
    """One registry entry.

    ``space`` holds the hyperparameter dimensions and the default configuration;
    ``fit_args`` are passed to every ``fit`` besides the sampled hyperparameters.
    Together they are the one source of defaults: a model's ``fit`` fills every
    argument it is not given from its registry entries (``BaseRecommender.fit``);
    ``max_points`` caps the number of distinct samples (``None``: no cap besides
    the space's own size). ``early_stopping``: the experiment passes ``fit`` a
    ``validation_metric`` (validation NDCG) to stop the training on, as the reference's
    ``Experiment.py`` does for its neural models. ``extra``: the optional dependency
    group the model needs (``"neural"``: PyTorch), or ``None``.
    """

    name: str
    recommender_class: type
    space: HyperparameterSpace = field(default_factory=lambda: HyperparameterSpace({}, {}))
    fit_args: dict = field(default_factory=dict)
    max_points: int | None = None
    early_stopping: bool = False
    extra: str | None = None

    def sample_hyperparameters(self, n_samples: int, param_seed: int) -> list[tuple[str, dict]]:
        """The search's configurations: the default first, then Sobol samples."""
        return self.space.sample(n_samples, param_seed, self.max_points)

    def default_fit_arguments(self) -> dict:
        """Everything ``fit`` gets for the default configuration: fixed arguments and space defaults."""
        return {**self.fit_args, **self.space.default}
