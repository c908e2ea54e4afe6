"""Configure litellm for machines without internet before anything imports it.

litellm reaches for the network at import (its model cost map) and when counting tokens
(Hugging Face tokenizers) unless told not to; on an offline machine that means long stalls.
Setting these before the first import keeps import and calls local. `setdefault` lets a user
who really wants the online behaviour override them from the shell.
"""

import os

OFFLINE_ENVIRONMENT = {
    "LITELLM_OFFLINE_MODE": "true",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "HF_HUB_OFFLINE": "1",
    "LITELLM_TELEMETRY": "False",
    "LITELLM_LOG": "ERROR",
}

for _name, _value in OFFLINE_ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)
