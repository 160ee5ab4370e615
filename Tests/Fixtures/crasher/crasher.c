/* A container command that exits with code 3 at once: a crash loop for the backoff tests. */
int main(void) { return 3; }
