from django.apps import AppConfig


class WinProbConfig(AppConfig):
    name = "integrations.winprob"
    label = "winprob"
    verbose_name = "Chance to close"

    def ready(self) -> None:
        from integrations.winprob import representations, tasks
        from leads import ports

        # New and changed leads get a fresh chance from the model in use, after their save commits.
        ports.subscribe("winprob", tasks.on_lead_events)
        # ``lead.win_probability`` and friends in the API, joined into every detailed lead read.
        ports.provide_lead_fields(
            "win_probability",
            representations.lead_win_fields,
            related=("win_prediction",),
            stamp=("win_prediction__computed_at",),
        )
        # The lead page's card next to the score.
        ports.provide_lead_page_section("win_probability", representations.lead_win_section)
