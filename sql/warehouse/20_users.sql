-- The users snapshot taken by the last extract.
SELECT * FROM read_parquet({lake} || '/dims/users.parquet')
