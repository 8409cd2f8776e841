INSERT INTO oauth_providers (slug, display_name, authorize_url, token_url, userinfo_url, client_id, client_secret_enc, scopes)
VALUES
    ('google', 'Google',
     'https://accounts.google.com/o/oauth2/v2/auth',
     'https://oauth2.googleapis.com/token',
     'https://openidconnect.googleapis.com/v1/userinfo',
     'local-dev-google-client-id.apps.googleusercontent.com',
     pgp_sym_encrypt('local-dev-google-secret', 'dev-encryption-key'),
     ARRAY['openid', 'email', 'profile']),
    ('github', 'GitHub',
     'https://github.com/login/oauth/authorize',
     'https://github.com/login/oauth/access_token',
     'https://api.github.com/user',
     'Iv1.localdevgithub01',
     pgp_sym_encrypt('local-dev-github-secret', 'dev-encryption-key'),
     ARRAY['read:user', 'user:email']);
