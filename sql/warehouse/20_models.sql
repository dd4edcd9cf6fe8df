-- The models snapshot taken by the last extract.
SELECT * FROM read_parquet({lake} || '/dims/models.parquet')
