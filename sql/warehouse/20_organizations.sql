-- The organizations snapshot taken by the last extract.
SELECT * FROM read_parquet({lake} || '/dims/organizations.parquet')
