-- The keys snapshot taken by the last extract.
SELECT * FROM read_parquet({lake} || '/dims/keys.parquet')
