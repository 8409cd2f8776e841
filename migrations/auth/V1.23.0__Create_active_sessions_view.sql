CREATE VIEW active_sessions AS
SELECT s.id          AS session_id,
       s.user_id,
       u.email,
       u.display_name,
       s.ip_address,
       s.user_agent,
       s.created_at,
       s.last_seen_at,
       s.expires_at
  FROM sessions s
  JOIN users u ON u.id = s.user_id
 WHERE s.revoked_at IS NULL
   AND s.expires_at > now()
   AND u.status = 'active';
