package samrun.lambda;

import java.lang.reflect.Method;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeParseException;
import java.time.temporal.TemporalAccessor;
import java.util.ArrayList;
import java.util.Calendar;
import java.util.Date;
import java.util.GregorianCalendar;
import java.util.List;
import java.util.TimeZone;

/**
 * Dates as Lambda's serialisation writes and reads them: java.util.Date as epoch milliseconds
 * (epoch seconds in the event classes, their DateModule), java.time as Jackson's JavaTimeModule
 * writes timestamps (Instant as seconds.nanos, LocalDate as [y, m, d]), Joda's DateTime of the
 * event classes as ISO-8601 text.
 */
final class Times {
    private Times() {
    }

    static Object read(Object node, Class<?> raw, boolean events) {
        try {
            if (raw == Date.class || raw == Calendar.class) {
                long millis;
                if (node instanceof Number) {
                    millis = events ? (long) (((Number) node).doubleValue() * 1000) : ((Number) node).longValue();
                } else {
                    millis = instant(node.toString()).toEpochMilli();
                }
                if (raw == Date.class) {
                    return new Date(millis);
                }
                Calendar calendar = new GregorianCalendar(TimeZone.getTimeZone("UTC"));
                calendar.setTimeInMillis(millis);
                return calendar;
            }
            if (raw.getName().equals("org.joda.time.DateTime")) {
                Object value = node instanceof Number
                        ? Long.valueOf(events ? (long) (((Number) node).doubleValue() * 1000) : ((Number) node).longValue())
                        : node.toString();
                return raw.getConstructor(Object.class).newInstance(value);
            }
            if (raw == Instant.class) {
                if (node instanceof Number) {
                    BigDecimal seconds = new BigDecimal(node.toString());
                    return Instant.ofEpochSecond(seconds.longValue(),
                            seconds.remainder(BigDecimal.ONE).movePointRight(9).intValue());
                }
                return instant(node.toString());
            }
            if (raw == LocalDate.class) {
                if (node instanceof List) {
                    List<?> parts = (List<?>) node;
                    return LocalDate.of(number(parts, 0), number(parts, 1), number(parts, 2));
                }
                return LocalDate.parse(node.toString());
            }
            if (raw == LocalDateTime.class) {
                if (node instanceof List) {
                    List<?> parts = (List<?>) node;
                    return LocalDateTime.of(number(parts, 0), number(parts, 1), number(parts, 2), number(parts, 3),
                            number(parts, 4), number(parts, 5), number(parts, 6));
                }
                return LocalDateTime.parse(node.toString());
            }
            if (raw == LocalTime.class) {
                if (node instanceof List) {
                    List<?> parts = (List<?>) node;
                    return LocalTime.of(number(parts, 0), number(parts, 1), number(parts, 2), number(parts, 3));
                }
                return LocalTime.parse(node.toString());
            }
            if (raw == OffsetDateTime.class) {
                return node instanceof Number ? OffsetDateTime.ofInstant((Instant) read(node, Instant.class, events), ZoneOffset.UTC)
                        : OffsetDateTime.parse(node.toString());
            }
            if (raw == ZonedDateTime.class) {
                return node instanceof Number ? ZonedDateTime.ofInstant((Instant) read(node, Instant.class, events), ZoneOffset.UTC)
                        : ZonedDateTime.parse(node.toString());
            }
            Method parse = raw.getMethod("parse", CharSequence.class);
            return parse.invoke(null, node.toString());
        } catch (Binder.BindException e) {
            throw e;
        } catch (Exception e) {
            throw new Binder.BindException("Cannot deserialize value of type `" + raw.getName() + "` from "
                    + (node instanceof String ? "String \"" + node + "\"" : String.valueOf(node)) + ": " + e, e);
        }
    }

    private static int number(List<?> parts, int index) {
        return index < parts.size() ? ((Number) parts.get(index)).intValue() : 0;
    }

    private static Instant instant(String text) {
        try {
            return Instant.parse(text);
        } catch (DateTimeParseException e) {
            try {
                return OffsetDateTime.parse(text).toInstant();
            } catch (DateTimeParseException again) {
                try {
                    return LocalDateTime.parse(text).toInstant(ZoneOffset.UTC);
                } catch (DateTimeParseException last) {
                    return LocalDate.parse(text).atStartOfDay().toInstant(ZoneOffset.UTC);
                }
            }
        }
    }

    /** The value as a JSON tree when it is a date or time, else null. */
    static Object write(Object value) {
        if (value instanceof Date) {
            return Long.valueOf(((Date) value).getTime());
        }
        if (value instanceof Calendar) {
            return Long.valueOf(((Calendar) value).getTimeInMillis());
        }
        String name = value.getClass().getName();
        if (name.startsWith("org.joda.time.")) {
            return value.toString();
        }
        if (!name.startsWith("java.time.")) {
            return null;
        }
        if (value instanceof Instant) {
            return seconds((Instant) value);
        }
        if (value instanceof OffsetDateTime) {
            return seconds(((OffsetDateTime) value).toInstant());
        }
        if (value instanceof ZonedDateTime) {
            return seconds(((ZonedDateTime) value).toInstant());
        }
        if (value instanceof LocalDate) {
            LocalDate d = (LocalDate) value;
            return list(d.getYear(), d.getMonthValue(), d.getDayOfMonth());
        }
        if (value instanceof LocalDateTime) {
            LocalDateTime t = (LocalDateTime) value;
            List<Object> out = list(t.getYear(), t.getMonthValue(), t.getDayOfMonth(), t.getHour(), t.getMinute());
            time(out, t.getSecond(), t.getNano());
            return out;
        }
        if (value instanceof LocalTime) {
            LocalTime t = (LocalTime) value;
            List<Object> out = list(t.getHour(), t.getMinute());
            time(out, t.getSecond(), t.getNano());
            return out;
        }
        if (value instanceof java.time.Duration) {
            java.time.Duration d = (java.time.Duration) value;
            return new Json.Raw(d.getSeconds() + "." + String.format("%09d", d.getNano()));
        }
        if (value instanceof TemporalAccessor || value instanceof java.time.ZoneId) {
            return value.toString();
        }
        return value.toString();
    }

    private static Json.Raw seconds(Instant instant) {
        return new Json.Raw(instant.getEpochSecond() + "." + String.format("%09d", instant.getNano()));
    }

    private static void time(List<Object> out, int second, int nano) {
        if (second > 0 || nano > 0) {
            out.add(Integer.valueOf(second));
            if (nano > 0) {
                out.add(Integer.valueOf(nano));
            }
        }
    }

    private static List<Object> list(int... values) {
        List<Object> out = new ArrayList<Object>();
        for (int v : values) {
            out.add(Integer.valueOf(v));
        }
        return out;
    }
}
