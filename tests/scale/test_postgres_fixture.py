import optuna


def test_optuna_study_lives_in_the_throwaway_postgres(postgres_url):
    storage = optuna.storages.RDBStorage(postgres_url)
    study = optuna.create_study(study_name="fixture-check", storage=storage)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    again = optuna.load_study(study_name="fixture-check", storage=postgres_url)
    assert len(again.get_trials(states=[optuna.trial.TrialState.COMPLETE])) == 3
