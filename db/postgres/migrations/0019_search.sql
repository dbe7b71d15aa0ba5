-- Finding old generations (issue 13): favorites, the filters' indexes, and full-text
-- search over prompts. The same as SQLite's 0020.
ALTER TABLE generations ADD COLUMN favorite INTEGER NOT NULL DEFAULT 0 CHECK (favorite IN (0, 1));
CREATE INDEX generations_user_favorite ON generations (user_id, created_at DESC, id DESC) WHERE favorite = 1;
CREATE INDEX generations_user_resolution ON generations (user_id, resolution, created_at DESC, id DESC);
CREATE INDEX generations_user_aspect ON generations (user_id, aspect_ratio, created_at DESC, id DESC);
CREATE INDEX generations_user_mode ON generations (user_id, generation_mode, created_at DESC, id DESC);

-- Prompts' words: the 'simple' text search configuration (no stemming, no stop words),
-- over the prompt folded as SQLite's unicode61 tokenizer with remove_diacritics 2 folds
-- it: lower case (Latin, Latin-1 and Extended-A, Cyrillic) and the Latin accents removed
-- (Ё and Й stay themselves, as in SQLite). The fold is spelled out rather than left to
-- lower() and unaccent: lower() follows the database's locale (C folds ASCII only), and
-- unaccent is an extension an operator may not be allowed to create. The GIN index is
-- built over the rows already there.
CREATE FUNCTION nanobanana_fold(t text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT translate(t,
        'ABCDEFGHIJKLMNOPQRSTUVWXYZÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞàáâãäåçèéêëìíîïñòóôõöùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĐĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĦĨĩĪīĬĭĮįİĲĴĵĶķĹĺĻļĽľĿŁŃńŅņŇňŊŌōŎŏŐőŒŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŦŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžЀЁЂЃЄЅІЇЈЉЊЋЌЍЎЏАБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ',
        'abcdefghijklmnopqrstuvwxyzaaaaaaæceeeeiiiiðnoooooøuuuuyþaaaaaaceeeeiiiinooooouuuuyyaaaaaaccccccccddđeeeeeeeeeegggggggghhħiiiiiiiiiĳjjkkllllllŀłnnnnnnŋooooooœrrrrrrssssssssttttŧuuuuuuuuuuuuwwyyyzzzzzzѐёђѓєѕіїјљњћќѝўџабвгдежзийклмнопрстуфхцчшщъыьэюя')
$$;
CREATE INDEX generations_prompt_search ON generations USING gin (to_tsvector('simple', nanobanana_fold(prompt)));
