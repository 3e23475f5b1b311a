"""A lead as HubSpot contact properties (HubSpot's default properties only, so
no custom property has to exist in the portal)."""

from leads.models import Lead, LeadStatus

# Our pipeline stage -> HubSpot's default "Lead status" (hs_lead_status) options.
# HubSpot has no stage past "open deal"; the deal pipeline carries the rest.
HS_LEAD_STATUS = {
    LeadStatus.NEW: "NEW",
    LeadStatus.CONTACTED: "CONNECTED",
    LeadStatus.QUALIFIED: "IN_PROGRESS",
    LeadStatus.SHOWING: "IN_PROGRESS",
    LeadStatus.OFFER: "OPEN_DEAL",
    LeadStatus.UNDER_CONTRACT: "OPEN_DEAL",
    LeadStatus.CLOSED: "OPEN_DEAL",
    LeadStatus.LOST: "UNQUALIFIED",
    LeadStatus.NURTURE: "BAD_TIMING",
}


def contact_properties(lead: Lead) -> dict[str, str]:
    """HubSpot property values for the lead's contact; an empty string clears a value there."""
    contact = lead.contact
    properties = {
        "firstname": contact.first_name,
        "lastname": contact.last_name,
        "phone": contact.phone,
        "hs_lead_status": HS_LEAD_STATUS.get(lead.status, "OPEN"),
    }
    if contact.email:  # never clear the email HubSpot matches contacts by
        properties["email"] = contact.email
    return properties
