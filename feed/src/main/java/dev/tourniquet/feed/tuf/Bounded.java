package dev.tourniquet.feed.tuf;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;

/** Reads a download without ever holding more than one byte past its cap (endless data attack). */
final class Bounded {
  private Bounded() {}

  /**
   * Reads at most {@code limit + 1} bytes: a result longer than {@code limit} means the stream had more.
   */
  static byte[] read(InputStream in, long limit) throws IOException {
    if (limit < 0 || limit >= Integer.MAX_VALUE - 16) {
      throw new IllegalArgumentException("limit: expected 0 to " + (Integer.MAX_VALUE - 17) + " but found " + limit);
    }
    int max = (int) (limit + 1);
    ByteArrayOutputStream out = new ByteArrayOutputStream(Math.min(max, 64 * 1024));
    byte[] buffer = new byte[Math.min(max, 16 * 1024)];
    int total = 0;
    while (total < max) {
      int n = in.read(buffer, 0, Math.min(buffer.length, max - total));
      if (n < 0) {
        break;
      }
      out.write(buffer, 0, n);
      total += n;
    }
    return out.toByteArray();
  }
}
