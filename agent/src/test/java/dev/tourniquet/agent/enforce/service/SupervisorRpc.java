package dev.tourniquet.agent.enforce.service;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.xml.sax.SAXException;

/**
 * The tests' own look at a supervisord: its XML-RPC interface over its Unix socket, what supervisorctl itself
 * talks to. Every supervisorctl is a new Python process (about a quarter of a second of CPU, most of it
 * importing pkg_resources), and a test that looked through it after each step spent more time starting
 * Pythons than the agent did; this answers in milliseconds. The agent under test still runs the real
 * supervisorctl. HTTP/1.0, so supervisord closes the connection after its answer; each call is bounded.
 */
final class SupervisorRpc {
  private final Path socket;
  private final String authorization;
  private final Duration timeout;

  SupervisorRpc(Path socket, String username, String password, Duration timeout) {
    this.socket = socket;
    this.authorization = "Basic " + Base64.getEncoder()
        .encodeToString((username + ":" + password).getBytes(StandardCharsets.UTF_8));
    this.timeout = timeout;
  }

  /** {@code supervisor.getAllProcessInfo}: one map per process (name, group, statename, pid, …). */
  @SuppressWarnings("unchecked")
  List<Map<String, Object>> allProcessInfo() throws IOException {
    return (List<Map<String, Object>>) call("supervisor.getAllProcessInfo");
  }

  /** {@code supervisor.shutdown}: supervisord stops its processes, then exits. */
  void shutdown() throws IOException {
    call("supervisor.shutdown");
  }

  /**
   * Calls a method without parameters.
   *
   * @throws IOException if supervisord cannot be reached, answers other than 200, or with a fault (its
   *     faultString in the message), or not within the timeout
   */
  Object call(String method) throws IOException {
    byte[] body = ("<?xml version=\"1.0\"?><methodCall><methodName>" + method
        + "</methodName><params/></methodCall>").getBytes(StandardCharsets.UTF_8);
    byte[] head = ("POST /RPC2 HTTP/1.0\r\nHost: localhost\r\nContent-Type: text/xml\r\nAuthorization: "
        + authorization + "\r\nContent-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
    String answer = exchange(ByteBuffer.wrap(head), ByteBuffer.wrap(body), method);
    int end = answer.indexOf("\r\n\r\n");
    String status = answer.lines().findFirst().orElse("");
    if (end < 0 || !status.matches("HTTP/1\\.[01] 200 .*")) {
      throw new IOException(method + ": expected HTTP 200 from supervisord but found " + status);
    }
    return decode(answer.substring(end + 4), method);
  }

  private String exchange(ByteBuffer head, ByteBuffer body, String method) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket));
        Selector selector = Selector.open()) {
      channel.write(new ByteBuffer[] {head, body}); // a few hundred bytes: the socket buffer takes them at once
      channel.configureBlocking(false);
      channel.register(selector, SelectionKey.OP_READ);
      ByteArrayOutputStream received = new ByteArrayOutputStream();
      ByteBuffer buffer = ByteBuffer.allocate(16384);
      while (true) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new IOException(method + ": supervisord did not answer within " + timeout);
        }
        selector.select(Math.max(1, left / 1_000_000));
        selector.selectedKeys().clear();
        int n = channel.read(buffer);
        if (n < 0) {
          return received.toString(StandardCharsets.UTF_8);
        }
        received.write(buffer.array(), 0, buffer.position());
        buffer.clear();
      }
    }
  }

  private static Object decode(String xml, String method) throws IOException {
    Document doc;
    try {
      DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
      factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
      doc = factory.newDocumentBuilder().parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)));
    } catch (ParserConfigurationException | SAXException e) {
      throw new IOException(method + ": expected an XML-RPC answer from supervisord but: " + e.getMessage(), e);
    }
    Element fault = child(doc.getDocumentElement(), "fault");
    if (fault != null) {
      throw new IOException(method + ": supervisord answered a fault: " + value(child(fault, "value")));
    }
    Element params = child(doc.getDocumentElement(), "params");
    Element param = params == null ? null : child(params, "param");
    if (param == null) {
      throw new IOException(method + ": expected a value in supervisord's answer but found " + xml);
    }
    return value(child(param, "value"));
  }

  /** An XML-RPC value: a String, Integer, Boolean, List or Map. */
  private static Object value(Element value) {
    Element typed = firstElement(value);
    if (typed == null) {
      return value.getTextContent(); // no type element: a string
    }
    return switch (typed.getTagName()) {
      case "int", "i4" -> Integer.valueOf(typed.getTextContent().strip());
      case "boolean" -> typed.getTextContent().strip().equals("1");
      case "array" -> {
        List<Object> items = new ArrayList<>();
        for (Element v : children(child(typed, "data"), "value")) {
          items.add(value(v));
        }
        yield items;
      }
      case "struct" -> {
        Map<String, Object> members = new LinkedHashMap<>();
        for (Element m : children(typed, "member")) {
          members.put(child(m, "name").getTextContent(), value(child(m, "value")));
        }
        yield members;
      }
      default -> typed.getTextContent();
    };
  }

  private static Element child(Element parent, String name) {
    List<Element> found = children(parent, name);
    return found.isEmpty() ? null : found.get(0);
  }

  private static List<Element> children(Element parent, String name) {
    List<Element> found = new ArrayList<>();
    for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element e && e.getTagName().equals(name)) {
        found.add(e);
      }
    }
    return found;
  }

  private static Element firstElement(Element parent) {
    for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element e) {
        return e;
      }
    }
    return null;
  }
}
