"""PostgreSQL URLs: the psycopg 3 spelling works, and a psycopg2 URL says how to fix it."""

from __future__ import annotations

import importlib.util

import optuna
import pytest

from tuneforge.errors import ConfigError
from tuneforge.tuning.storage import open_storage


def test_explicit_psycopg3_url_opens_the_study_storage(postgres_url):
    url = postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    study = optuna.create_study(study_name="psycopg3-url", storage=open_storage(url))
    study.tell(study.ask(), 1.0)
    again = optuna.load_study(study_name="psycopg3-url", storage=open_storage(postgres_url))
    assert [t.value for t in again.trials] == [1.0]


@pytest.mark.skipif(importlib.util.find_spec("psycopg2") is not None, reason="psycopg2 installed")
def test_a_psycopg2_url_without_psycopg2_names_the_psycopg3_spelling():
    with pytest.raises(ConfigError) as error:
        open_storage("postgresql+psycopg2://me:secret@db.example/tuning")
    message = str(error.value)
    assert "psycopg2 driver" in message and "postgresql+psycopg://" in message
    assert "secret" not in message
