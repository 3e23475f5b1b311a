from django import forms

ORDER_CHOICES = [
    ("push,sms", "Push notification, then text message, then email"),
    ("sms,push", "Text message, then push notification, then email"),
    ("push", "Push notification, then email"),
    ("sms", "Text message, then email"),
    ("", "Email only"),
]


class AlertPreferenceForm(forms.Form):
    order = forms.ChoiceField(
        label="How alerts reach you",
        choices=ORDER_CHOICES,
        widget=forms.RadioSelect,
        required=False,
        help_text="The next way is tried when one fails. Email is always the last resort.",
    )
    sms_number = forms.CharField(
        label="Mobile number for texts",
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "placeholder": "+14155550134"}),
    )
    sms_opt_in = forms.BooleanField(
        label="Text me lead alerts at this number. Message and data rates may apply.", required=False
    )
