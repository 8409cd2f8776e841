DROP TABLE IF EXISTS database_events;
