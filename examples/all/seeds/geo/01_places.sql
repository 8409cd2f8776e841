INSERT INTO places (name, location, embedding) VALUES
    ('Berlin', ST_GeogFromText('POINT(13.405 52.52)'), '[1, 0, 0]'),
    ('Paris', ST_GeogFromText('POINT(2.3522 48.8566)'), '[0, 1, 0]');
