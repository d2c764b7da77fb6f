"""VerifyConfig: every setting validated at the boundary, naming its field; canaries fit the model."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpviz.cli.main import UsageError, build_parser
from dpviz.cli.verify import config_from_args
from dpviz.validation import ValidationError
from dpviz.verify.config import DEFAULT_CANARIES, MAX_INPUT_CANARIES, VerifyConfig, parameter_count


def test_defaults_and_the_cap_at_one_canary_per_parameter():
    assert VerifyConfig().canaries == DEFAULT_CANARIES["gradient"]
    assert VerifyConfig(model="logreg").canaries == parameter_count("logreg", (8, 8, 1)) == 650
    assert VerifyConfig(kind="input").canaries == DEFAULT_CANARIES["input"]
    with pytest.raises(ValidationError, match="<= 650") as err:
        VerifyConfig(model="logreg", canaries=651)
    assert err.value.field == "canaries"


@pytest.mark.parametrize(
    "changes, field",
    [
        (dict(kind="blackbox"), "kind"),
        (dict(canaries=19), "canaries"),
        (dict(kind="input", canaries=MAX_INPUT_CANARIES + 1), "canaries"),
        (dict(noise_multiplier=0), "noise_multiplier"),
        (dict(batch_size=2000), "batch_size"),
        (dict(seed=-1), "seed"),
        (dict(epochs=0), "epochs"),
        (dict(delta=1), "delta"),
        (dict(model="resnet"), "model"),
    ],
)
def test_bad_settings_name_their_field(changes, field):
    with pytest.raises(ValidationError) as err:
        VerifyConfig(**changes)
    assert err.value.field == field


def test_canaries_count_in_n_and_in_the_steps():
    c = VerifyConfig(batch_size=100, epochs=2)
    assert c.privacy(500).dataset_size == 1437 + 500 and c.privacy(500).steps == 39
    assert c.train_config.sampler == "poisson" and not c.train_config.audit and not c.train_config.reproducible
    assert VerifyConfig(seed=3).train_config.reproducible


def test_round_trip_and_unknown_keys():
    c = VerifyConfig(kind="input", canaries=100, seed=2)
    assert VerifyConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValidationError) as err:
        VerifyConfig.from_dict({"canary": 3})
    assert err.value.field == "canary"


TEXT = st.one_of(
    st.sampled_from(["0", "-1", "1e3", "abc", "", "nan", "inf", "1e308", "20", "64", "0.5", "9" * 400]),
    st.integers(-10, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    flags=st.dictionaries(
        st.sampled_from(
            ["--canaries", "--batch-size", "--noise-multiplier", "--epochs", "--delta", "--clip-norm", "--seed"]
        ),
        TEXT,
    ),
    kind=st.sampled_from(["gradient", "input", "other"]),
)
def test_every_command_line_input_is_a_config_or_one_named_error(flags, kind):
    argv = ["verify", "--kind", kind, *[x for pair in flags.items() for x in pair]]
    try:
        config = config_from_args(build_parser().parse_args(argv))
    except (UsageError, ValidationError):
        return
    assert isinstance(config, VerifyConfig) and config.canaries >= 20 and config.noise_multiplier > 0


def test_a_training_run_as_a_verification_and_back():
    from dpviz.training.config import TrainConfig

    run = TrainConfig(model="logreg", epochs=3, batch_size=100, noise_multiplier=2.0, seed=5, accountant="pld")
    c = VerifyConfig.from_train_config(run, kind="input", canaries=40)
    assert (c.model, c.epochs, c.batch_size, c.noise_multiplier, c.accountant) == ("logreg", 3, 100, 2.0, "pld")
    assert c.seed is None  # the run's noise came from the OS's entropy: so does the verification's
    assert (
        VerifyConfig.from_train_config(
            run.__class__(**{**run.to_dict(), "reproducible": True}), kind="input", canaries=40
        ).seed
        == 5
    )
    assert c.train_config.batch_size == 100 and c.train_config.sampler == "poisson"
