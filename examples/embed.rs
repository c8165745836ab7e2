#[tokio::main]
async fn main() -> odis::Result<()> {
    let engine = odis::Engine::new()?;
    let batches = engine
        .sql("SELECT source, count(*) AS n FROM 'sql/data/corpus.parquet' GROUP BY source")
        .await?;
    let total: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(total, 3); // gcide, wordnet, fortunes
    Ok(())
}
