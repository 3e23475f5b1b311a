"""What ``leads`` shows of a lead's chance to close (through ``leads.ports``): the API's
``win_*`` fields and the lead page's card. Both read ``lead.win_prediction``, which the
lead reads join in (``related``), so neither costs a query."""

from django.core.exceptions import ObjectDoesNotExist

NOT_YET = "Not scored by the model yet: it is scored after each save and after each training."


def _prediction(lead):
    try:
        return lead.win_prediction
    except ObjectDoesNotExist:
        return None


def lead_win_fields(lead) -> dict:
    prediction = _prediction(lead)
    if prediction is None:
        return {
            "win_probability": None,
            "win_probability_reason": NOT_YET,
            "win_factors": [],
            "win_model_version": None,
        }
    has_value = prediction.probability is not None
    return {
        "win_probability": round(prediction.probability * 100, 1) if has_value else None,
        "win_probability_reason": None if has_value else (prediction.reason or NOT_YET),
        "win_factors": [factor for factor in prediction.factors or [] if isinstance(factor, dict)],
        "win_model_version": prediction.model_version,
    }


def lead_win_section(lead) -> dict:
    """The card's context: ``percent`` and ``whole`` (rounded once, from the stored chance) or
    None and ``reason``; ``factors``, ``version``, ``computed_at``."""
    fields = lead_win_fields(lead)
    prediction = _prediction(lead)
    return {
        "template": "winprob/_lead_card.html",
        "percent": fields["win_probability"],
        "whole": round(prediction.probability * 100) if fields["win_probability"] is not None else None,
        "reason": fields["win_probability_reason"],
        "factors": fields["win_factors"],
        "version": fields["win_model_version"],
        "computed_at": prediction.computed_at if prediction is not None else None,
    }
