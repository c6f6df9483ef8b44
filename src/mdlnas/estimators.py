"""scikit-learn estimators: the whole method behind ``fit`` / ``predict``.

``fit`` splits a stratified validation part off ``X`` (seeded by ``random_state``), fits
the scaling on the training part only, searches an architecture on the two parts (the
bilevel search of :mod:`mdlnas.search.darts`) and retrains the found genotype from scratch
(:func:`mdlnas.train.retrain.retrain`). Everything stays in memory; no file is written.
``X`` of shape ``(n, features)`` is searched in the ``mlp`` space, ``(n, channels,
length)`` in ``conv1d`` and ``(n, channels, height, width)`` in ``conv2d``, unless
``space=`` names another.

Time series held as ``(n, length)`` (sktime's and tslearn's flat layout) are signals with
``signal=1``, or with ``space="conv1d"``; ``signal=C`` reads ``(n, C * length)`` as ``C``
channels, one after another. A pandas DataFrame with text columns has them one-hot
encoded, and ``impute="mean"`` / ``"median"`` fills missing values; both are fitted on the
training part, as ``mdlnas search`` does with a table (:mod:`mdlnas.data.encoding`).

Constructor arguments are named like the options of ``mdlnas search`` (``--train-epochs``
is ``train_epochs``, ``--seed`` is ``random_state``). As scikit-learn requires, they are
only stored by ``__init__`` and checked by ``fit``.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mdlnas.errors import ConfigError, DataError, MdlnasError

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import (
        check_consistent_length,
        check_is_fitted,
        column_or_1d,
        validate_data,
    )
except ImportError:  # validate_data arrived in scikit-learn 1.6
    raise MdlnasError(
        "the mdlnas estimators need scikit-learn 1.6 or newer: pip install 'scikit-learn>=1.6' "
        "(or pip install 'mdlnas[sklearn]')"
    ) from None

from mdlnas.config import BUDGET_LAM_RANGE, SpaceConfig
from mdlnas.data import DataBundle, DataConfig, Scaling, Split, Task
from mdlnas.data.assemble import as_signals
from mdlnas.data.config import IMPUTE_OPTIONS, ImputeOption
from mdlnas.data.encoding import FeatureEncoding
from mdlnas.data.scaling import fit_scaling
from mdlnas.data.split import plan_sizes, split_indices
from mdlnas.data.targets import check_finite_features, check_magnitude
from mdlnas.device import resolve_device
from mdlnas.search.darts import BilevelSearch, EpochRecord, SearchResult, search
from mdlnas.space.genotype import Genotype
from mdlnas.space.network import DerivedNetwork
from mdlnas.space.presets import check_ops, make_space, space_for
from mdlnas.strategies import family
from mdlnas.train.augment import check_augment
from mdlnas.train.retrain import retrain
from mdlnas.workflow.export import export_network
from mdlnas.workflow.options import Option, option_tables, search_options
from mdlnas.workflow.predict import Predictions, predict_rows
from mdlnas.workflow.run_config import RunConfig, config_from_tables

# Two rows fit the weights, one chooses the architecture: the least a search can run on.
MIN_SAMPLES = 3
# Tables (n, features), signals (n, channels, length), images (n, channels, height, width).
_SAMPLE_AXES = (2, 3, 4)


# Options of `mdlnas search` that are no parameters: the data comes as X and y, and
# random_state is the seed in scikit-learn's terms (None draws one).
_NOT_PARAMETERS = {"data", "target", "data-dir", "n-train", "train-n-train", "seed"}
# Every other option of `mdlnas search` is a parameter of the same name and default.
OPTIONS = tuple(o for o in search_options() if o.name not in _NOT_PARAMETERS)
_LAM, _LAM_RANGE = (next(o for o in OPTIONS if o.name == name) for name in ("lam", "lam-range"))
# the share of X held out to choose the architecture: as DataConfig's, of the whole
_VAL_FRACTION = DataConfig(name="X").val_fraction


def _signature() -> inspect.Signature:
    """``__init__(self, *, ...)``: the options with their defaults, then the estimators'
    own parameters."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)]
    params += [inspect.Parameter(o.dest, keyword, default=o.default, annotation=_annotation(o))
               for o in OPTIONS]
    params += [
        inspect.Parameter("val_fraction", keyword, default=_VAL_FRACTION, annotation="float"),
        inspect.Parameter("random_state", keyword, default=None,
                          annotation="int | np.random.RandomState | None"),
        inspect.Parameter("verbose", keyword, default=False, annotation="bool"),
    ]
    return inspect.Signature(params)


def _annotation(option: Option) -> str:
    """An option's type, as text (for help() and IDEs; nothing checks it)."""
    kind = option.kind
    base = "Sequence[str]" if kind.base is tuple else kind.base.__name__
    if kind.choices is not None:
        base = f"Literal{list(kind.choices)}"
    return f"{base} | None" if kind.optional or option.default is None else base


_SIGNATURE = _signature()


class _MDLNASBase(BaseEstimator):  # type: ignore[misc]  # sklearn ships no type hints
    """What the classifier and the regressor share: parameters, fitting, checks.

    The parameters are the options of ``mdlnas search`` (see :data:`OPTIONS`), with
    their defaults, plus ``val_fraction``, ``random_state`` and ``verbose``; ``__init__``
    only stores them, as scikit-learn requires, and ``fit`` checks them.
    """

    _task: Task
    # the parameters this class reads by name; the others reach the configs as options
    space: str | None
    signal: int | None
    impute: ImputeOption | None
    deterministic: bool
    device: str
    val_fraction: float
    random_state: int | np.random.RandomState | None
    verbose: bool

    def __init__(self, **params: Any) -> None:
        bound = _SIGNATURE.bind(self, **params)  # an unknown name is a TypeError
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)

    # scikit-learn reads the parameters from this signature (get_params, clone, repr)
    __init__.__signature__ = _SIGNATURE  # type: ignore[attr-defined]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True  # signals (n, C, L); images are 4-D
        return tags

    # -- configs, built from the parameters ------------------------------------------
    def _seed(self) -> int:
        """An int ``random_state`` is the seed itself (as ``--seed``); None or a
        RandomState draws one, so repeated fits differ as scikit-learn users expect."""
        state = self.random_state
        if isinstance(state, int | np.integer) and not isinstance(state, bool):
            if state < 0:
                raise ConfigError(f"random_state must be a non-negative integer, got {state}")
            return int(state)
        return int(check_random_state(state).randint(np.iinfo(np.int32).max))

    def _run_config(self, seed: int) -> RunConfig:
        """The parameters as the run `mdlnas search` would make of the same options."""
        values = {option: getattr(self, option.dest) for option in OPTIONS}
        if values.get(_LAM) == "auto":
            # λ by validation: the family over the default range, its best network (within
            # the budget, if one is given), retrained at that network's λ
            values[_LAM] = _LAM.default
            if values.get(_LAM_RANGE) is None:
                values[_LAM_RANGE] = BUDGET_LAM_RANGE
        tables = option_tables(values)
        tables["data"]["name"] = type(self).__name__  # the data is X and y, not a file
        run = config_from_tables(tables)
        if run.search.family_range is not None and values[_LAM] != _LAM.default:
            raise ConfigError(f"lam={values[_LAM]!r} with a family (lam_range, max_weights or "
                              "max_macs), which searches every λ of its range; drop lam, or "
                              "give lam_range to choose the family")
        train = replace(run.retraining(), seed=seed)
        if self.deterministic:  # retraining describes the weights as the search did
            train = replace(train, bayes=replace(train.bayes, variational=False))
        return replace(run, search=replace(run.search, seed=seed), train=train)

    def _space_config(self, run: RunConfig, modality: str) -> SpaceConfig:
        return check_ops(make_space(run.space_name or space_for(modality), run.overrides))

    # -- fitting -------------------------------------------------------------------------
    def _checked_fit_input(self, x: Any, y: Any, *, y_numeric: bool) -> tuple[Any, NDArray[Any]]:
        """``x`` and ``y`` checked and converted the scikit-learn way (this records
        ``n_features_in_``); a table to encode (see :meth:`_encodes`) stays a DataFrame."""
        if self.impute is not None and self.impute not in IMPUTE_OPTIONS:
            raise ConfigError(
                f"impute must be one of {', '.join(IMPUTE_OPTIONS)} or None; got {self.impute!r}"
            )
        if not self._encodes(x):
            features, target = validate_data(
                self, x, y, allow_nd=True, dtype=np.float64, y_numeric=y_numeric
            )
            _check_axes(features)
            return features, target
        frame = _as_frame(x)
        target = column_or_1d(y, warn=True)
        check_consistent_length(frame, target)
        if y_numeric:
            target = np.asarray(target, dtype=np.float64)
        self.n_features_in_ = frame.shape[1]
        if _is_frame(x):
            self.feature_names_in_ = np.asarray([str(c) for c in x.columns], dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return frame, target

    def _encodes(self, x: Any) -> bool:
        """Whether ``x`` goes through a fitted feature encoding: a DataFrame with a
        column that is no number, or a table whose gaps are to be imputed."""
        if _is_frame(x):
            numeric = all(dtype.kind in "biuf" for dtype in x.dtypes)
            return not numeric or self.impute is not None
        return self.impute is not None and np.ndim(x) == 2

    def _checked_predict_input(self, x: Any) -> NDArray[np.float64]:
        """``x`` checked like the ``X`` given to ``fit``: same columns, same sample shape."""
        if self.encoding_ is not None:
            frame = _as_frame(x, self.encoding_.names)
            features = self.encoding_.transform(frame, source="X", unknown="error")
        else:
            features = validate_data(self, x, reset=False, allow_nd=True, dtype=np.float64)
            _check_axes(features)
        features = as_signals(features, self.signal_, "X")
        if tuple(features.shape[1:]) != self.input_shape_:
            raise DataError(
                f"X has samples of shape {tuple(features.shape[1:])}, but "
                f"{type(self).__name__} was fitted on samples of shape {self.input_shape_}"
            )
        return features

    def _split(
        self, n: int, y: NDArray[Any], seed: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Training and validation rows of one ``fit``: a stratified split (no test part:
        scoring is the caller's, e.g. by cross-validation)."""
        if n < MIN_SAMPLES:
            raise DataError(
                f"{type(self).__name__} needs at least {MIN_SAMPLES} samples (two to fit the "
                f"weights, one to choose the architecture); got {n} sample{'s' * (n != 1)}"
            )
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(
                f"val_fraction must lie strictly between 0 and 1, got {self.val_fraction!r}"
            )
        classes = y if self._task == "classification" else None
        sizes = plan_sizes(n, val_fraction=self.val_fraction, test_fraction=None, n_train=None)
        train_ix, val_ix, _ = split_indices(classes, sizes, np.random.default_rng(seed), n)
        return train_ix, val_ix

    def _features(self, x: Any, train_ix: NDArray[np.int64]) -> NDArray[np.float64]:
        """``x`` as numbers shaped for the network: encoded (a table), then as signals."""
        self.encoding_: FeatureEncoding | None = None
        features: NDArray[np.float64] = x
        if _is_frame(x):
            self.encoding_ = FeatureEncoding.fit(x, train_ix, source="X", impute=self.impute,
                                                 numeric_only=self.signal is not None)
            # the validation rows' unseen categories are zeros, as a deployed model sees them
            features = self.encoding_.transform(x, source="X", unknown="ignore")
        wants_signal = self.space == "conv1d" and features.ndim == 2
        self.signal_: int | None = self.signal or (1 if wants_signal else None)
        return as_signals(features, self.signal_, "X")

    def _bundle(
        self, x: NDArray[np.float64], y: NDArray[Any], n_classes: int,
        train_ix: NDArray[np.int64], val_ix: NDArray[np.int64],
    ) -> tuple[DataBundle, Scaling]:
        """The in-memory dataset one ``fit`` searches and retrains on, scaled on the
        training part only; and that scaling."""
        # float32 is what networks compute in; refuse values it cannot hold.
        check_finite_features(x, source="X")
        targets = y.astype(np.float64) if self._task == "regression" else None
        if targets is not None:
            check_magnitude(y, source="y", what="regression targets")
        x32 = x.astype(np.float32)
        scaling = fit_scaling(x32[train_ix], None if targets is None else targets[train_ix])

        def part(rows: NDArray[np.int64]) -> Split:
            y_part = y[rows] if targets is None else scaling.transform_y(targets[rows])
            return Split(scaling.transform_x(x32[rows]), y_part, rows)

        empty = np.zeros(0, dtype=np.int64)
        bundle = DataBundle(
            name=type(self).__name__,
            task=self._task,
            train=part(train_ix),
            val=part(val_ix),
            test=part(empty),  # never used: the search and retraining see train and val
            input_shape=tuple(int(d) for d in x.shape[1:]),
            n_classes=n_classes,
            scaling=scaling,
        )
        return bundle, scaling

    def _fit_encoded(self, x: Any, y: NDArray[Any], n_classes: int) -> None:
        seed = self._seed()
        run = self._run_config(seed)
        resolve_device(self.device)  # a bad device fails before any work
        train_ix, val_ix = self._split(len(x), y, seed)
        features = self._features(x, train_ix)
        bundle, scaling = self._bundle(features, y, n_classes, train_ix, val_ix)
        space = self._space_config(run, bundle.modality)
        check_augment(run.train.augment, bundle.input_shape)  # before the search, not after
        family.check_budget_fill(run.search, run.train)
        self.front_: list[dict[str, Any]] | None = None
        if run.search.family_range is None:
            result = search(bundle, space, run.search, callbacks=[self._report_search])
        else:
            result, run = self._search_family(bundle, space, run)
        trained = retrain(result.genotype, bundle, run.train, callbacks=[self._report_train])
        trained.model.eval()
        self.space_: SpaceConfig = space
        self.search_result_: SearchResult = result
        self.genotype_: Genotype = result.genotype
        self.model_: DerivedNetwork = trained.model
        self.scaling_: Scaling = scaling
        self.history_: list[dict[str, float]] = trained.history
        self.input_shape_: tuple[int, ...] = tuple(int(d) for d in features.shape[1:])

    def _search_family(self, bundle: DataBundle, space: SpaceConfig,
                       run: RunConfig) -> tuple[SearchResult, RunConfig]:
        """A family search (``lam_range``, or a budget): the network the budget picks,
        and the run with its λ for retraining unless ``train_lam`` was given."""
        cfg = run.search
        if cfg.max_weights is not None or cfg.max_macs is not None:
            family.check_budget(cfg, family.smallest_size(
                space, bundle.task, bundle.input_shape, bundle.output_dim, cfg), space.name)
        state = BilevelSearch(bundle, space, cfg)
        while not state.finished:
            self._report_search(state.run_epoch(), state)
        choice = family.pick(state, space, run.retraining, self._report_line)
        self.front_ = choice.rows
        if self.verbose:
            print(f"family: {choice.note}", file=sys.stderr)
        if self.train_lam is None:
            run = replace(run, train=replace(run.train, lam=choice.lam))
        return replace(state.result(), genotype=choice.genotype), run

    def _report_line(self, line: str) -> None:
        if self.verbose:
            print(line, file=sys.stderr)

    def _report_search(self, record: EpochRecord, _: object) -> None:
        if self.verbose:
            print(f"search epoch {record.epoch}: val NLL {record.val_nll:.4f}, "
                  f"DL {record.description_length_bits:,.0f} bits", file=sys.stderr)

    def _report_train(self, record: dict[str, float]) -> None:
        if self.verbose:
            print(f"retraining epoch {int(record['epoch'])}: val NLL {record['val_nll']:.4f}",
                  file=sys.stderr)

    def export(self, path: str | os.PathLike[str], format: str = "torch") -> dict[str, Any]:
        """Write the fitted network with its scaling as a ``torch.export`` program
        (``format="torch"``, ``.pt2``) or an ONNX graph (``"onnx"``) that runs without
        mdlnas, plus ``PATH.json`` describing it; see :mod:`mdlnas.workflow.export`."""
        check_is_fitted(self, "model_")
        names = [str(label) for label in getattr(self, "classes_", ())]
        return export_network(self.model_, self.scaling_, Path(path), format, names,
                              self.encoding_)

    def _predictions(self, x: Any) -> Predictions:
        check_is_fitted(self, "model_")
        return predict_rows(self.model_, self.scaling_, self._checked_predict_input(x))


def _is_frame(x: Any) -> bool:
    # pandas is not imported for arrays: a DataFrame exists only once it has been.
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(x, pandas.DataFrame)


def _as_frame(x: Any, names: Sequence[str] | None = None) -> Any:
    """``x`` as a DataFrame: as it is, or a 2-D array's columns named ``names`` (those the
    encoding was fitted on) or by position."""
    if _is_frame(x):
        return x
    import pandas as pd

    array = np.asarray(x, dtype=object)
    if array.ndim != 2:
        raise DataError(
            f"X must be a DataFrame or a 2-D array (n, features) for a feature encoding "
            f"(text columns or impute=); got shape {array.shape}"
        )
    if names is not None and array.shape[1] != len(names):
        raise DataError(
            f"X has {array.shape[1]} columns, but the estimator was fitted on {len(names)} "
            f"({', '.join(names)})"
        )
    columns = list(names) if names is not None else [str(i) for i in range(array.shape[1])]
    return pd.DataFrame(array, columns=columns)


def _check_axes(x: NDArray[np.float64]) -> None:
    if x.ndim not in _SAMPLE_AXES:
        raise DataError(
            f"X must be 2-D (n, features), 3-D (n, channels, length) or 4-D "
            f"(n, channels, height, width); got shape {x.shape}"
        )


class MDLNASClassifier(ClassifierMixin, _MDLNASBase):  # type: ignore[misc]
    """A classifier whose network architecture is searched for its description length.

    Fitted attributes: ``classes_``, ``genotype_`` (the found architecture), ``model_``
    (the retrained network, on ``scaled`` inputs), ``scaling_``, ``space_``,
    ``search_result_`` (history, mixing weights γ), ``history_`` (retraining),
    ``n_features_in_``, ``input_shape_`` and ``front_`` (a family search's rows, else
    None). ``max_weights=N`` searches the family of λ and keeps its best network on
    validation within N weights; ``lam="auto"`` picks λ by validation the same way.
    """

    _task: Task = "classification"

    def fit(self, X: Any, y: Any) -> MDLNASClassifier:
        x, labels = self._checked_fit_input(X, y, y_numeric=False)
        check_classification_targets(labels)
        classes, encoded = np.unique(labels, return_inverse=True)
        if len(classes) < 2:
            raise DataError(
                f"y holds 1 class ({classes[0]!r}); a classifier needs at least two classes"
            )
        self._fit_encoded(x, encoded.astype(np.int64).reshape(-1), len(classes))
        self.classes_: NDArray[Any] = classes
        return self

    def predict(self, X: Any) -> NDArray[Any]:
        predictions = self._predictions(X)
        assert predictions.labels is not None  # a classification network gives labels
        labels: NDArray[Any] = self.classes_[predictions.labels]
        return labels

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        """Class probabilities ``(n, len(classes_))`` under the posterior-mean network."""
        predictions = self._predictions(X)
        assert predictions.probabilities is not None
        return predictions.probabilities


class MDLNASRegressor(RegressorMixin, _MDLNASBase):  # type: ignore[misc]
    """A regressor whose network architecture is searched for its description length.

    Fitted attributes (``front_``, ``max_weights`` and ``lam="auto"`` as for the
    classifier): ``genotype_`` (the found architecture), ``model_`` (the retrained
    network, on scaled inputs and targets), ``scaling_``, ``space_``, ``search_result_``,
    ``history_``, ``n_features_in_`` and ``input_shape_``.
    """

    _task: Task = "regression"

    def fit(self, X: Any, y: Any) -> MDLNASRegressor:
        x, target = self._checked_fit_input(X, y, y_numeric=True)
        self._fit_encoded(x, np.asarray(target, dtype=np.float64), n_classes=0)
        return self

    def predict(self, X: Any) -> NDArray[np.float64]:
        """Predictions in the units of the ``y`` given to ``fit``."""
        predictions = self._predictions(X)
        assert predictions.values is not None  # a regression network gives values
        return predictions.values


__all__ = ["MDLNASClassifier", "MDLNASRegressor"]
