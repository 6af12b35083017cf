from api.models import Post, User
from rest_framework import serializers


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ("id", "username", "email", "full_name", "age", "created_at")


class PostSerializer(serializers.ModelSerializer):
    user_id = serializers.IntegerField(min_value=1)
    title = serializers.CharField(min_length=1, max_length=200)
    body = serializers.CharField(max_length=10000, allow_blank=True)

    class Meta:
        model = Post
        fields = ("id", "user_id", "title", "body", "created_at")
        read_only_fields = ("id", "created_at")


class ItemSerializer(serializers.Serializer):
    name = serializers.CharField(min_length=1, max_length=100)
    qty = serializers.IntegerField(min_value=1, max_value=1000)
    price = serializers.FloatField(min_value=0)


class OrderSerializer(serializers.Serializer):
    customer = serializers.CharField(min_length=1, max_length=100)
    items = ItemSerializer(many=True, allow_empty=False, max_length=100)
