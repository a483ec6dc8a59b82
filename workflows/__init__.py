"""Department workflows: one module per body, each registering itself with
`referral_engine.workflow`. This package may import the core; the core never imports it."""
