/**
 * Splits a byte stream into newline-delimited records without ever holding more than `maxLineBytes`
 * of one record: an over-long line is skipped (reported once as "too-large" with its line number)
 * while its bytes are still accounted for, so file offsets stay exact.
 *
 * Hand-written rather than node:readline because readline has no line-size cap (a single 2 GB line
 * would be buffered whole) and does not report byte lengths, which the file tail needs to persist
 * exact offsets. Splitting on Buffer.indexOf(10) is also faster.
 */
export type LinePiece =
  /** A complete line (without its "\n" or trailing "\r"). `bytes` includes the newline. */
  | { kind: 'line'; text: string; lineNo: number; bytes: number }
  /** An empty or whitespace-only line: nothing to parse, but its bytes count. */
  | { kind: 'blank'; lineNo: number; bytes: number }
  /** A line longer than the limit, skipped. */
  | { kind: 'too-large'; lineNo: number; bytes: number };

const NEWLINE = 0x0a;

export class LineSplitter {
  private carry: Buffer[] = [];
  private carryBytes = 0;
  /** True while discarding the rest of an over-long line. */
  private skipping = false;
  private skippedBytes = 0;
  private nextLineNo: number;

  constructor(
    readonly maxLineBytes: number,
    firstLineNo = 1,
  ) {
    this.nextLineNo = firstLineNo;
  }

  /** Bytes of an unfinished last line held (or being skipped). */
  get pendingBytes(): number {
    return this.skipping ? this.skippedBytes : this.carryBytes;
  }

  /** Line number the next completed line will get. */
  get lineNo(): number {
    return this.nextLineNo;
  }

  feed(chunk: Buffer): LinePiece[] {
    const out: LinePiece[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl === -1) {
        this.hold(chunk.subarray(start));
        break;
      }
      const segment = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.skipping) {
        out.push({
          kind: 'too-large',
          lineNo: this.nextLineNo++,
          bytes: this.skippedBytes + segment.length + 1,
        });
        this.skipping = false;
        this.skippedBytes = 0;
        continue;
      }
      const total = this.carryBytes + segment.length;
      if (total > this.maxLineBytes) {
        out.push({ kind: 'too-large', lineNo: this.nextLineNo++, bytes: total + 1 });
        this.resetCarry();
        continue;
      }
      const buf = this.carryBytes === 0 ? segment : Buffer.concat([...this.carry, segment], total);
      this.resetCarry();
      out.push(this.piece(buf, total + 1));
    }
    return out;
  }

  /**
   * End of stream: an unterminated last line becomes a line (it may still be valid JSON; if it was
   * cut, the parser counts it as malformed). Returns undefined when nothing was pending.
   */
  flush(): LinePiece | undefined {
    if (this.skipping) {
      const piece: LinePiece = { kind: 'too-large', lineNo: this.nextLineNo++, bytes: this.skippedBytes };
      this.skipping = false;
      this.skippedBytes = 0;
      return piece;
    }
    if (this.carryBytes === 0) return undefined;
    const bytes = this.carryBytes;
    const buf = Buffer.concat(this.carry, bytes);
    this.resetCarry();
    return this.piece(buf, bytes);
  }

  /** Forget a pending partial line (after truncation), returning how many bytes were discarded. */
  discardPending(): number {
    const n = this.pendingBytes;
    this.resetCarry();
    this.skipping = false;
    this.skippedBytes = 0;
    return n;
  }

  private piece(buf: Buffer, bytes: number): LinePiece {
    let end = buf.length;
    if (end > 0 && buf[end - 1] === 0x0d) end--;
    const text = buf.toString('utf8', 0, end);
    const lineNo = this.nextLineNo++;
    if (text.trim() === '') return { kind: 'blank', lineNo, bytes };
    return { kind: 'line', text, lineNo, bytes };
  }

  private hold(rest: Buffer): void {
    if (this.skipping) {
      this.skippedBytes += rest.length;
      return;
    }
    if (this.carryBytes + rest.length > this.maxLineBytes) {
      // Start skipping: keep only the count, not the bytes, so memory stays bounded.
      this.skipping = true;
      this.skippedBytes = this.carryBytes + rest.length;
      this.resetCarry();
      return;
    }
    // Copy: the caller may reuse its read buffer.
    this.carry.push(Buffer.from(rest));
    this.carryBytes += rest.length;
  }

  private resetCarry(): void {
    this.carry = [];
    this.carryBytes = 0;
  }
}
