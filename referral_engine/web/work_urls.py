"""Where each section of my work (`cases/work.py`) is listed in full: the home's links and the API's
`<section>_url` (links are built at the edge, never by a service)."""

FULL_LIST_URLS = {
    "assigned": "/work/assigned/",
    "led_cases": "/work/led_cases/",
    "inbox": "/inbox/",
    "followups": "/work/followups/",
    "setbacks": "/work/setbacks/",
    "slips": "/work/slips/",
}
