package dev.tourniquet.cli;

import dev.tourniquet.feed.tuf.FeedVerificationException;
import dev.tourniquet.feed.tuf.PublisherException;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * A publisher verb ({@code tourniquet keys …}, {@code tourniquet feed …}) and its exit-code contract: 0
 * when it did what was asked; 2 when the input is invalid (a mitigation document that does not validate,
 * a revision that does not go up, a bad key file or threshold), with one line per problem; 1 when the
 * operation failed (a repository not in a state to do it, a key the role does not list, a wrong passphrase,
 * a feed that does not verify, a file that cannot be read), with one line saying which check failed.
 */
abstract class Verb implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  PrintWriter out() {
    return spec.commandLine().getOut();
  }

  PrintWriter err() {
    return spec.commandLine().getErr();
  }

  /** Does the work; returning normally means success. */
  abstract void run() throws Exception;

  @Override
  public final Integer call() throws Exception {
    try {
      run();
      return 0;
    } catch (Invalid e) {
      e.lines.forEach(err()::println);
      return Main.INVALID;
    } catch (Failed e) {
      err().println("tourniquet: " + e.getMessage());
      return 1;
    } catch (IllegalArgumentException e) {
      err().println("tourniquet: " + e.getMessage());
      return Main.INVALID;
    } catch (PublisherException | FeedVerificationException e) {
      err().println("tourniquet: " + e.getMessage());
      // The repository reports every rule staged targets break: the first thrown, the others suppressed by it.
      for (Throwable other : e.getSuppressed()) {
        if (other instanceof PublisherException) {
          err().println("tourniquet: " + other.getMessage());
        }
      }
      return 1;
    } finally {
      out().flush();
      err().flush();
    }
  }

  /** The operation failed for a reason the message gives; exit 1. */
  static final class Failed extends Exception {
    private static final long serialVersionUID = 1L;

    Failed(String message) {
      super(message, null, false, false);
    }
  }

  /** The input is invalid; each line says where and what is expected. */
  static final class Invalid extends Exception {
    private static final long serialVersionUID = 1L;
    final transient List<String> lines;

    Invalid(List<String> lines) {
      super(String.join("\n", lines), null, false, false);
      this.lines = List.copyOf(lines);
    }

    Invalid(String line) {
      this(List.of(line));
    }
  }
}
