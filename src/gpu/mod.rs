//! todo
pub struct Gpu;
impl Gpu {
    pub async fn new() -> crate::Result<Self> {
        Ok(Gpu)
    }
}
