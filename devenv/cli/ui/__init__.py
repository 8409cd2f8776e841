"""`devenv ui`: the stack at a glance in a browser, served on 127.0.0.1 behind a token.

`security` (pure: token, Host and CSRF checks), `views` (pure: HTML from the data `status
--json` gives), `server` (the executor: an HTTP server over the CLI's own verbs).
"""
